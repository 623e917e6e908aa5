"""A small compiled artifact shared by the runtime tests."""

from __future__ import annotations

import pytest

from compiler_core.compile import compile_model
from tests.compiler_core.codegen.util import model, node, plan, vi, weight


def small_model():
    """x[3,4] @ w[4,5] -> Relu -> y[3,5]."""
    nodes = [node("MatMul", ["x", "w"], ["m"]), node("Relu", ["m"], ["y"])]
    return model(nodes, [vi("x", [3, 4])], [vi("y", [3, 5])], [weight("w", [4, 5])])


@pytest.fixture(scope="session")
def small_artifact(tmp_path_factory):
    return compile_model(plan(small_model()), output_dir=tmp_path_factory.mktemp("rt") / "art")
