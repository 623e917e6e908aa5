import sys

from dnnfusion.cli import main

sys.exit(main())
