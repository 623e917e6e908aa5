"""dnf_set_trace: a host library stores the block about to run into the caller's slot (read
through ctypes), -1 after the last block; a run stopped by an error leaves its block."""

from __future__ import annotations

import ctypes

import numpy as np
import pytest
from onnx import TensorProto

from compiler_core.compile import compile_model
from compiler_core.errors import ModelRuntimeError
from compiler_core.runtime import InferenceSession
from compiler_core.target.abi import DIV_BY_ZERO
from tests.compiler_core.codegen.util import F32, model, node, plan, vi, weight

I32 = TensorProto.INT32


def two_block_model():
    """Block 0: x @ w1; block 1: (int)(m @ w2) / d, a checked kernel (two anchors, two
    blocks)."""
    nodes = [
        node("MatMul", ["x", "w1"], ["m"]),
        node("MatMul", ["m", "w2"], ["m2"]),
        node("Cast", ["m2"], ["mi"], to=I32),
        node("Div", ["mi", "d"], ["q"]),
        node("Cast", ["q"], ["y"], to=F32),
    ]
    return model(nodes, [vi("x", [4, 8]), vi("d", [4, 8], I32)], [vi("y", [4, 8])],
                 [weight("w1", [8, 8], seed=1), weight("w2", [8, 8], seed=2, scale=20)])


@pytest.fixture(scope="module")
def art(tmp_path_factory):
    planned = plan(two_block_model())
    assert [b.ops for b in planned.plan.blocks] == [["MatMul"], ["MatMul", "Cast", "Div", "Cast"]]
    return compile_model(planned, output_dir=tmp_path_factory.mktemp("trace") / "art")


class _Lib:
    """The artifact's model.so through its C entry points only."""

    def __init__(self, art):
        lib = ctypes.CDLL(str(art / "model.so"))
        lib.dnf_create.restype = ctypes.c_void_p
        lib.dnf_create.argtypes = [ctypes.c_char_p]
        lib.dnf_run.argtypes = [ctypes.c_void_p] * 3
        lib.dnf_error_block.argtypes = [ctypes.c_void_p]
        lib.dnf_set_trace.argtypes = [ctypes.POINTER(ctypes.c_int32)]
        lib.dnf_set_trace.restype = None
        lib.dnf_destroy.argtypes = [ctypes.c_void_p]
        self.lib = lib
        self.h = lib.dnf_create(str(art / "weights.bin").encode())
        assert self.h

    def run(self, x, d, y) -> int:
        ins = (ctypes.c_void_p * 2)(x.ctypes.data, d.ctypes.data)
        outs = (ctypes.c_void_p * 1)(y.ctypes.data)
        return self.lib.dnf_run(self.h, ins, outs)


def test_library_stores_blocks_in_the_trace_slot(art):
    lib = _Lib(art)
    x = np.ones((4, 8), np.float32)
    d = np.full((4, 8), 3, np.int32)
    y = np.empty((4, 8), np.float32)
    slot = ctypes.c_int32(77)
    lib.lib.dnf_set_trace(ctypes.byref(slot))
    assert lib.run(x, d, y) == 0
    assert slot.value == -1  # after the last block
    assert lib.lib.dnf_error_block(lib.h) == -1
    d[2, 5] = 0
    slot.value = 77
    assert lib.run(x, d, y) == DIV_BY_ZERO.code
    assert slot.value == 1  # stored before block 1, which stopped the run
    assert lib.lib.dnf_error_block(lib.h) == 1
    lib.lib.dnf_set_trace(None)  # off: the slot is left alone
    slot.value = 77
    d[2, 5] = 3
    assert lib.run(x, d, y) == 0
    assert slot.value == 77
    lib.lib.dnf_destroy(lib.h)


def test_session_error_names_the_block(art):
    sess = InferenceSession(art)
    d = np.full((4, 8), 3, np.int32)
    d[0, 0] = 0
    with pytest.raises(ModelRuntimeError) as info:
        sess.run(None, {"x": np.ones((4, 8), np.float32), "d": d})
    assert str(info.value) == "the compiled model divided by zero in block 1 (Div)"
    assert info.value.block == 1
    slot = ctypes.c_int32(77)
    assert sess._backend.set_trace(slot)
    d[0, 0] = 1
    sess.run(None, {"x": np.ones((4, 8), np.float32), "d": d})
    assert slot.value == -1
    assert sess._backend.set_trace(None)
