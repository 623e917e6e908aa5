"""The API process does not load the compiler (service/schemas/compile_options.py,
workers/compile_step.py): only the dependency-free options and errors, the safe ONNX loader
it checks uploads with (onnx), and the profiling database's records.

Checked in a fresh interpreter that builds the app and its OpenAPI schema (every route
module imported), so modules other tests loaded do not hide an import.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

# What the compiler needs and the service never may load: the compiler past its options,
# errors and safe loader, the ONNX toolchain past onnx itself, the worker's code, the
# benchmark builder of the profiling package.
FORBIDDEN = (
    "compiler_core.bench",
    "compiler_core.codegen",
    "compiler_core.compile",
    "compiler_core.frontend.importer",
    "compiler_core.ir",
    "compiler_core.limits",
    "compiler_core.passes",
    "compiler_core.pipeline",
    "compiler_core.planner",
    "compiler_core.runtime",
    "compiler_core.target",
    "onnx_ir",
    "onnxruntime",
    "onnxscript",
    "profiling.cost",
    "profiling.executable",
    "scipy_openblas32",
    "torch",
    "workers",
)

_PROBE = """
import json, sys
from service.main import create_app
from dnfstore.settings import Settings

data = sys.argv[1]
app = create_app(Settings(data_dir=data, database_url=f"sqlite:///{data}/db.sqlite"))
assert app.openapi()["paths"]
print(json.dumps(sorted(sys.modules)))
"""


# The task names it sends jobs by (service/dispatch.py; the package's __init__ imports nothing).
ALLOWED = frozenset({"workers", "workers.names"})


def _loaded(name: str, modules: list[str]) -> list[str]:
    return [
        m for m in modules if (m == name or m.startswith(name + ".")) and m not in ALLOWED
    ]


def test_the_api_process_does_not_load_the_compiler(tmp_path: Path) -> None:
    out = subprocess.run(
        [sys.executable, "-c", _PROBE, str(tmp_path)],
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
        cwd=Path(__file__).resolve().parents[2],
    )
    modules = json.loads(out.stdout.strip().splitlines()[-1])
    loaded = {name: _loaded(name, modules) for name in FORBIDDEN}
    assert {k: v for k, v in loaded.items() if v} == {}
    # What it does use, so the probe is known to have imported the app.
    for needed in ("service.main", "service.api.router", "compiler_core.options", "onnx"):
        assert needed in modules
