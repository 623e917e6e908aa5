"""The kernel of a ``"concat_in_place"`` block (:mod:`compiler_core.planner.concat_view`).

It computes nothing: :func:`compiler_core.codegen.generate.generate` places each input of the
Concat at its byte offset inside the output's storage (:meth:`ConcatViewKernel.placements`),
so the producers' kernels have already written the output when this block's turn comes. The
emitted function is empty; it stays so that block ``i`` is still function ``k{i}`` (traces and
per-block profiles count blocks, :mod:`compiler_core.codegen.generate`).
"""

from __future__ import annotations

from dataclasses import dataclass

import onnx_ir as ir

from compiler_core.codegen.c.printer import render
from compiler_core.codegen.c.stmt import Expr, Function
from compiler_core.ir.ecg import ECG
from compiler_core.planner.concat_view import ConcatInPlace


@dataclass
class ConcatViewKernel:
    """A Concat in place (the interface of :class:`~compiler_core.codegen.kernel.BlockKernel`):
    ``inputs`` the Concat's inputs, ``outputs`` its output, no scratch."""

    block_id: int
    name: str
    node_ids: list[int]
    inputs: list[ir.Value]
    outputs: list[ir.Value]
    offsets: tuple[int, ...]  # byte offset of each input inside the output
    scratch: tuple[()] = ()
    anchor: None = None
    checked: bool = False

    @property
    def ops(self) -> list[str]:
        return ["Concat"]

    def placements(self) -> list[tuple[ir.Value, ir.Value, int]]:
        """(input, the output holding it, byte offset) for each input."""
        return [(v, self.outputs[0], off) for v, off in zip(self.inputs, self.offsets,
                                                            strict=True)]

    def emit(self, pointers: dict[ir.Value, tuple[str, bool]]) -> list[str]:
        """An empty function: the output was written in place by the producers."""
        comment_ = (f"block {self.block_id}: Concat in place (its {len(self.inputs)} inputs "
                    "were written into their slices of the output by their producers)")
        fn = Function("void", self.name, "const dnf_ctx* restrict c", [Expr("(void)c")],
                      comment=comment_)
        return render([fn])


def analyze_concat_view(ecg: ECG, block_id: int, cv: ConcatInPlace) -> ConcatViewKernel:
    node = ecg.nodes[cv.node]
    return ConcatViewKernel(block_id=block_id, name=f"k{block_id}", node_ids=[cv.node],
                            inputs=list(node.inputs), outputs=[node.outputs[0]],
                            offsets=cv.offsets)
