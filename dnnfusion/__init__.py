"""The ``dnnfusion`` command line (see ``dnnfusion --help``)."""
