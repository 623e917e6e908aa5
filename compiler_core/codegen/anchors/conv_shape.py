"""Conv shape algebra shared by the Conv and ConvTranspose emitters: sizes, groups, bias."""

from __future__ import annotations

from dataclasses import dataclass

import onnx_ir as ir

from compiler_core.codegen.anchors.window import Window, check_out, window
from compiler_core.codegen.attrs import attr, unsupported
from compiler_core.codegen.cnames import ctype_of
from compiler_core.ir.ecg import value_shape


@dataclass(frozen=True)
class ConvShape:
    n: int  # batch
    c: int  # input channels
    m: int  # output channels
    g: int  # groups
    win: Window

    @property
    def cg(self) -> int:
        return self.c // self.g

    @property
    def mg(self) -> int:
        return self.m // self.g

    @property
    def hw(self) -> int:
        return self.win.h.size * self.win.w.size

    @property
    def ohw(self) -> int:
        return self.win.h.out * self.win.w.out

    @property
    def k(self) -> int:
        """GEMM depth: input channels of a group times taps."""
        return self.cg * self.win.taps

    @property
    def macs(self) -> int:
        return self.n * self.m * self.ohw * self.k


def float_only(node: ir.Node) -> None:
    for v in [*node.inputs, *node.outputs]:
        if v is not None and not ctype_of(v).is_float:
            raise unsupported(node, "only float32 is supported")


def bias_of(node: ir.Node) -> ir.Value | None:
    ins = list(node.inputs)
    return ins[2] if len(ins) > 2 and ins[2] is not None else None


def conv_shape(node: ir.Node) -> ConvShape:
    x, w = node.inputs[0], node.inputs[1]
    xs, ws, ys = value_shape(x), value_shape(w), value_shape(node.outputs[0])
    g = int(attr(node, "group", 1))
    kernel = tuple(ws[2:])
    given = attr(node, "kernel_shape")
    if given is not None and tuple(given) != kernel:
        raise unsupported(node, f"kernel_shape {given} differs from the weights {kernel}")
    win = window(node, kernel)
    check_out(node, win)
    n, c, m = xs[0], xs[1], ws[0]
    if g < 1 or c % g or m % g or ws[1] != c // g or ys[:2] != (n, m):
        raise unsupported(node, f"inconsistent shapes X{xs} W{ws} Y{ys} group={g}")
    b = bias_of(node)
    if b is not None and value_shape(b) != (m,):
        raise unsupported(node, f"bias shape {value_shape(b)} (expected ({m},))")
    return ConvShape(n, c, m, g, win)


def is_depthwise(s: ConvShape) -> bool:
    return s.cg == 1


