"""The random graph generator: valid ONNX whose declared output shapes and dtypes are what ONNX
Runtime computes, under hypothesis (shrinking) as in the seeded runs."""

from __future__ import annotations

import random

import numpy as np
import onnx
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from compiler_core.runtime.validate import ort_session
from fuzz.choose import DrawChooser, RandomChooser
from fuzz.graphs import NP, feeds, pack, random_subgraph


def _check(graphs) -> bool:
    """Checker passes; ORT's outputs have the declared shapes and dtypes. False when ORT has no
    kernel for an operator/dtype pair (e.g. Relu on int32: the fuzzer counts it as refused)."""
    model = pack(graphs)
    onnx.checker.check_model(model, full_check=True)
    names = [t.name for g in graphs for t in g.outputs]
    declared = {t.name: t for g in graphs for t in g.outputs}
    try:
        got = ort_session(model, optimize=False, threads=1).run(names, feeds(graphs, 0))
    except Exception as err:  # noqa: BLE001 - only a missing ORT kernel is acceptable
        if "NOT_IMPLEMENTED" in str(err):
            return False
        raise
    for name, value in zip(names, got, strict=True):
        assert value.shape == declared[name].shape, name
        assert value.dtype == np.dtype(NP[declared[name].dtype]), name
    return True


@settings(max_examples=80, deadline=None, suppress_health_check=list(HealthCheck))
@given(st.data())
def test_hypothesis_graphs_are_valid_and_shaped_as_declared(data):
    ch = DrawChooser(data.draw)
    _check([random_subgraph(ch, f"g{i}_") for i in range(ch.int(1, 3))])


def test_seeded_graphs_cover_the_operator_set():
    graphs = [random_subgraph(RandomChooser(random.Random(i)), f"g{i}_") for i in range(400)]
    ops = {op for g in graphs for op in g.ops}
    for wanted in ("MatMul", "Gemm", "Conv", "Concat", "Where", "Cast", "ReduceSum", "Softmax",
                   "LayerNormalization", "MaxPool", "Gather", "Slice", "Pad", "Div", "And"):
        assert wanted in ops, wanted
    dtypes = {t.dtype for g in graphs for t in g.inputs}
    assert dtypes == set(NP)  # float32, int32, int64, bool
    assert sum(_check([g]) for g in graphs[:60]) >= 50


def test_integer_divisors_are_never_zero():
    for i in range(200):
        g = random_subgraph(RandomChooser(random.Random(f"div{i}")), "g_")
        values = feeds([g], i)
        for t in g.inputs:
            if g.ranges[t.name] == "nonzero":
                assert np.all(values[t.name] != 0)
