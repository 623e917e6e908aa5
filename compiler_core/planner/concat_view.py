"""Concats in place (issue #13): the producers write straight into the Concat's output.

A ``Concat`` whose slices are contiguous in memory (every dimension before ``axis`` is 1, as
for channels of one NCHW image) only copies: each input is written by its producer, read once
by the copy and then dead. SqueezeNet's fire modules, Inception's modules and DenseNet's dense
blocks copy every branch output this way (the planner fuses the copy into one producer's block
as an epilogue at best; ONNX Runtime runs it as its own node). Here such a Concat becomes a
block of kind ``"concat_in_place"`` that computes nothing: the memory plan
(:func:`compiler_core.codegen.generate.generate`) places each input at its byte offset inside
the output's storage, so the producers' kernels write their slices there and no byte is
copied. A chain of them (DenseNet: each Concat's output is the first input of the next) ends
up in one buffer.

A Concat qualifies when its output and inputs are computed tensors (not graph inputs, outputs
or constants), all of static, non-empty shape, its inputs are distinct and not already placed
inside another Concat's output. The inputs may have other readers: their storage simply lives
as long as the output's.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import onnx_ir as ir

from compiler_core.ir.ecg import ECG, is_constant, value_shape


@dataclass(frozen=True)
class ConcatInPlace:
    """``node``: the Concat's node index; ``offsets[i]``: byte offset of input ``i`` inside the
    output (its slice). Computes nothing, so it counts for no floor kernel."""

    node: int
    offsets: tuple[int, ...]

    @property
    def nodes(self) -> tuple[int, ...]:
        return (self.node,)

    @property
    def floor_blocks(self) -> int:
        return 0


def _computed(ecg: ECG, v: ir.Value | None) -> bool:
    """A tensor some node computes, of static non-empty shape, that is not a graph output."""
    if v is None or is_constant(v) or v.producer() is None or v in ecg.graph_outputs:
        return False
    if v.shape is None or not all(isinstance(d, int) for d in v.shape):
        return False
    return math.prod(value_shape(v)) > 0 and v in ecg.value_bytes


def concat_in_place(ecg: ECG, i: int, placed: set[ir.Value]) -> ConcatInPlace | None:
    """The pattern for node ``i`` when it is a Concat that qualifies (see the module text);
    ``placed``: tensors already inside another Concat's output."""
    node = ecg.nodes[i]
    if node.op_type != "Concat" or node.domain not in ("", "ai.onnx") or len(node.outputs) != 1:
        return None
    y = node.outputs[0]
    ins = list(node.inputs)
    if not _computed(ecg, y) or not ins or not all(_computed(ecg, v) for v in ins):
        return None
    if len({id(v) for v in ins}) != len(ins) or any(v in placed for v in ins):
        return None
    shape = value_shape(y)
    attr = node.attributes.get("axis")
    axis = attr.as_int() if attr is not None else 0
    axis = axis + len(shape) if axis < 0 else axis
    if not 0 <= axis < len(shape) or math.prod(shape[:axis]) != 1:
        return None
    if any(v.dtype != y.dtype for v in ins):
        return None
    offsets, off = [], 0
    for v in ins:
        offsets.append(off)
        off += ecg.value_bytes[v]
    if off != ecg.value_bytes[y]:
        return None
    return ConcatInPlace(i, tuple(offsets))


def find_concats_in_place(ecg: ECG) -> list[ConcatInPlace]:
    """Every qualifying Concat, in node order (an input goes into the first Concat only)."""
    found: list[ConcatInPlace] = []
    placed: set[ir.Value] = set()
    for i in range(len(ecg.nodes)):
        c = concat_in_place(ecg, i, placed)
        if c is not None:
            found.append(c)
            placed.update(ecg.nodes[i].inputs)
    return found
