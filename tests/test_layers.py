"""The layering holds: the import-linter contracts of pyproject.toml ([tool.importlinter]), and
compiler_core acyclic even counting imports made only for type checking."""

from __future__ import annotations

import itertools
import shutil
import subprocess
from pathlib import Path

import grimp

ROOT = Path(__file__).resolve().parents[1]


def test_import_contracts_hold() -> None:
    exe = shutil.which("lint-imports")
    assert exe, "lint-imports not installed: python -m pip install -e '.[test]'"
    out = subprocess.run([exe, "--no-cache"], cwd=ROOT, capture_output=True, text=True,
                         timeout=300)
    assert out.returncode == 0, out.stdout[-6000:] + out.stderr[-2000:]
    assert "0 broken" in out.stdout


def _cycles(graph: grimp.ImportGraph, parent: str) -> list[tuple[str, str]]:
    children = sorted(graph.find_children(parent))
    return [
        (a, b)
        for a, b in itertools.combinations(children, 2)
        if graph.chain_exists(a, b, as_packages=True) and graph.chain_exists(b, a, as_packages=True)
    ]


def test_compiler_core_is_acyclic_with_type_checking_imports() -> None:
    """``passes/`` had a cycle (context -> expr -> matcher -> rule -> context) that only
    TYPE_CHECKING imports closed; the contracts skip those, so this test counts them."""
    graph = grimp.build_graph(
        "compiler_core", exclude_type_checking_imports=False, cache_dir=None
    )
    packages = ["compiler_core", "compiler_core.passes", "compiler_core.runtime",
                "compiler_core.codegen", "compiler_core.planner", "compiler_core.target"]
    assert {p: _cycles(graph, p) for p in packages} == {p: [] for p in packages}
    assert len(graph.find_children("compiler_core.passes")) > 10  # the package was found
