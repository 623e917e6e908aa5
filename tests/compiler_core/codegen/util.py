"""Helpers: build opset-21 graphs, compile them, compare with ONNX Runtime."""

from __future__ import annotations

import itertools
from pathlib import Path

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

from compiler_core.compile import compile_model
from compiler_core.pipeline import plan_planned
from compiler_core.runtime import InferenceSession
from tests.helpers.ort import run_ort

F32, I64, BOOL = TensorProto.FLOAT, TensorProto.INT64, TensorProto.BOOL
_count = itertools.count()


def vi(name, shape, dtype=F32):
    return helper.make_tensor_value_info(name, dtype, list(shape))


def const(name, array):
    return numpy_helper.from_array(np.asarray(array), name)


def weight(name, shape, seed=0, scale=1.0):
    rng = np.random.default_rng(seed)
    return const(name, (rng.standard_normal(shape) * scale).astype(np.float32))


def node(op, inputs, outputs, name=None, **attrs):
    return helper.make_node(op, list(inputs), list(outputs), name=name or f"n{next(_count)}",
                            **attrs)


def model(nodes, inputs, outputs, inits=()):
    graph = helper.make_graph(nodes, "g", inputs, outputs, initializer=list(inits))
    m = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 21)])
    m = onnx.shape_inference.infer_shapes(m, strict_mode=True)
    m.ir_version = 10
    return m


def conv_model(x_shape, w_shape, y_shape, *, act="Relu", residual=False, bias=True, seed=0,
               **attrs):
    """``Conv(x, w[, b]) [+ r] -> act -> y``: one conv with an element-wise epilogue (a
    residual ``Add`` of a second input ``r`` when ``residual``), random weights scaled 0.3."""
    ins = ["x", "w", "b"] if bias else ["x", "w"]
    nodes = [node("Conv", ins, ["c"], **attrs)]
    last = "c"
    inputs = [vi("x", x_shape)]
    if residual:
        inputs.append(vi("r", y_shape))
        nodes.append(node("Add", ["c", "r"], ["s"]))
        last = "s"
    nodes.append(node(act, [last], ["y"]))
    inits = [weight("w", w_shape, seed, 0.3)]
    if bias:
        inits.append(weight("b", [w_shape[0]], seed + 1))
    return model(nodes, inputs, [vi("y", y_shape)], inits)


def gemm_calls(src: str) -> int:
    """GEMM calls in the kernels of a model.c: ``cblas_sgemm`` ones, packed-B ``dnf_gemm_pb``
    ones (x86-64, constant B: anchors/gemm_packed.py) and packed-A ``dnf_gemm_pa`` ones (x86-64
    convs: anchors/gemm_packed_a.py); helper bodies, which come before the first kernel, are
    not counted."""
    kernels = src.split("\n/* block ", 1)[1]
    return sum(kernels.count(f"{f}(") for f in ("scipy_cblas_sgemm", "dnf_gemm_pb", "dnf_gemm_pa"))


def plan(proto):
    """A PlannedModel without algebraic rewriting, so the block structure is the one the
    test builds."""
    return plan_planned(proto, rewrite=False)


def feeds_for(proto, seed):
    rng = np.random.default_rng(seed)
    out = {}
    for v in proto.graph.input:
        t = v.type.tensor_type
        shape = [d.dim_value for d in t.shape.dim]
        if t.elem_type == F32:
            out[v.name] = rng.standard_normal(shape).astype(np.float32)
        elif t.elem_type == BOOL:
            out[v.name] = rng.random(shape) < 0.5
        else:
            out[v.name] = rng.integers(0, 4, size=shape).astype(np.int64)
    return out


def block_ops(proto, blocks):
    """The operators each block of ``proto``'s plan must hold, in plan order: ``blocks`` as
    given (a list of operator lists), or for ``blocks=1`` one block holding every node of
    ``proto`` in graph order."""
    if blocks == 1:
        return [[n.op_type for n in proto.graph.node]]
    if not isinstance(blocks, list):
        raise TypeError(f"blocks: 1 or a list of operator lists per block, not {blocks!r}")
    return blocks


def compile_and_check(proto, tmp_path: Path, *, blocks=None, feeds=None, rtol=1e-3, atol=1e-4):
    """Compile ``proto``, compare with ORT on 3 random input sets; returns (planned, dir).
    ``blocks`` (see :func:`block_ops`): the plan's blocks must hold exactly these operators."""
    planned = plan(proto)
    if blocks is not None:
        got = [b.ops for b in planned.plan.blocks]
        assert got == block_ops(proto, blocks)
    out = compile_model(planned, output_dir=tmp_path / f"art{next(_count)}")
    sess = InferenceSession(out)
    names = [o.name for o in sess.get_outputs()]
    for seed in range(3):
        f = feeds(seed) if feeds else feeds_for(proto, seed)
        want = run_ort(proto, f)
        got = dict(zip(names, sess.run(None, f), strict=True))
        assert set(got) == set(want)
        for k in want:
            assert got[k].shape == want[k].shape, (k, got[k].shape, want[k].shape)
            assert got[k].dtype == want[k].dtype, (k, got[k].dtype, want[k].dtype)
            np.testing.assert_allclose(got[k], want[k], rtol=rtol, atol=atol, err_msg=k)
    sess.close()
    return planned, out


def assert_isa_levels_agree(proto, out: Path, tmp_path: Path, monkeypatch) -> None:
    """Run the artifact ``out`` with the packed GEMMs capped at AVX-512, AVX2 + FMA and plain C
    (``$DNNFUSION_GEMM_ISA``, read when a library loads: each level runs a copy, another
    library instance) on one input set; the outputs must be the same bits."""
    import shutil

    from compiler_core.runtime import InferenceSession

    feeds = feeds_for(proto, 0)
    results = {}
    for isa in ("avx512", "avx2", "c"):
        monkeypatch.setenv("DNNFUSION_GEMM_ISA", isa)
        copy = tmp_path / f"copy-{isa}"
        shutil.copytree(out, copy)
        with InferenceSession(copy) as sess:
            results[isa] = sess.run(None, feeds)[0]
    np.testing.assert_array_equal(results["avx512"], results["c"])
    np.testing.assert_array_equal(results["avx2"], results["c"])
