"""Sliding-window geometry shared by Conv, ConvTranspose and the pooling anchors.

Everything is static, so every bound is a Python integer when the C code is written. One and
two spatial dimensions are handled (a 1-D window is a 2-D one whose height is 1); the output
shape always comes from shape inference and is only checked here.

Index algebra (one spatial axis, output ``o``, tap ``t``): the input read is
``i = o*stride - pad_begin + t*dilation``; it is padding when ``i`` is outside ``[0, size)``.
For a fixed tap the valid outputs form one range ``[lo, hi)``, so inner loops never branch.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import onnx_ir as ir

from compiler_core.codegen.attrs import attr, unsupported
from compiler_core.ir.ecg import value_shape


@dataclass(frozen=True)
class Axis:
    """One spatial axis: input size, output size, kernel, stride, dilation, pads."""

    size: int
    out: int
    kernel: int
    stride: int = 1
    dilation: int = 1
    pad_begin: int = 0
    pad_end: int = 0

    def offset(self, tap: int) -> int:
        """Input index of output 0 at ``tap``: the read is ``o*stride + offset(tap)``."""
        return tap * self.dilation - self.pad_begin

    def valid(self, tap: int) -> tuple[int, int]:
        """The outputs ``[lo, hi)`` whose input at ``tap`` is inside the tensor (lo may equal
        hi: the tap never reads a real element)."""
        off = self.offset(tap)
        lo = max(0, -(off // self.stride) if off < 0 else 0)  # smallest o with o*s + off >= 0
        hi = min(self.out, (self.size - 1 - off) // self.stride + 1) if self.size > off else 0
        return lo, max(lo, hi)

    @property
    def simple(self) -> bool:
        """Output = input, element for element (kernel 1, stride 1, no padding)."""
        return self.kernel == 1 and self.stride == 1 and self.pad_begin == 0 and self.pad_end == 0


@dataclass(frozen=True)
class Window:
    """The two spatial axes (``h`` is size 1 for 1-D operators)."""

    h: Axis
    w: Axis

    @property
    def taps(self) -> int:
        return self.h.kernel * self.w.kernel


def int_list(node: ir.Node, name: str, n: int, default: int) -> list[int]:
    """Attribute ``name`` with one integer per spatial axis (``n`` values)."""
    v = attr(node, name)
    if v is None:
        return [default] * n
    if len(v) != n:
        raise unsupported(node, f"attribute {name} has {len(v)} values for {n} spatial axes")
    return [int(x) for x in v]


def _auto_pads(node: ir.Node, sizes, outs, kernels, strides, dilations) -> list[int]:
    """Explicit pads [begins..., ends...] for ``auto_pad`` (SAME_* pads to ``ceil(in/s)``)."""
    mode = attr(node, "auto_pad", "NOTSET")
    n = len(sizes)
    if mode in ("NOTSET", ""):
        return int_list(node, "pads", 2 * n, 0)
    if mode == "VALID":
        return [0] * (2 * n)
    if mode not in ("SAME_UPPER", "SAME_LOWER"):
        raise unsupported(node, f"auto_pad={mode!r}")
    begins, ends = [], []
    for size, out, k, s, d in zip(sizes, outs, kernels, strides, dilations, strict=True):
        total = max(0, (out - 1) * s + (k - 1) * d + 1 - size)
        small, big = total // 2, total - total // 2
        begins.append(small if mode == "SAME_UPPER" else big)
        ends.append(big if mode == "SAME_UPPER" else small)
    return begins + ends


def window(node: ir.Node, kernel: tuple[int, ...] | None = None) -> Window:
    """The window of a Conv/pool ``node`` (input 0, output 0); ``kernel`` defaults to the
    ``kernel_shape`` attribute."""
    xs, ys = value_shape(node.inputs[0]), value_shape(node.outputs[0])
    n = len(xs) - 2
    if n not in (1, 2) or len(ys) != len(xs):
        raise unsupported(node, f"{n} spatial dimensions (only 1 and 2 are supported)")
    kernels = list(kernel) if kernel is not None else int_list(node, "kernel_shape", n, 0)
    if len(kernels) != n or min(kernels) < 1:
        raise unsupported(node, "kernel_shape is missing or invalid")
    strides = int_list(node, "strides", n, 1)
    dilations = int_list(node, "dilations", n, 1)
    sizes, outs = list(xs[2:]), list(ys[2:])
    pads = _auto_pads(node, sizes, outs, kernels, strides, dilations)
    axes = [
        Axis(sizes[a], outs[a], kernels[a], strides[a], dilations[a], pads[a], pads[n + a])
        for a in range(n)
    ]
    if min(strides + dilations) < 1:
        raise unsupported(node, "strides and dilations must be positive")
    if n == 1:
        axes.insert(0, Axis(1, 1, 1))
    return Window(axes[0], axes[1])


def check_out(node: ir.Node, win: Window, ceil_mode: bool = False) -> None:
    """Raise when shape inference and the attributes disagree on the output size, or when
    ``ceil_mode`` makes a last window start in the end padding (ONNX Runtime drops that
    window, ONNX shape inference keeps it: ambiguous, refused)."""
    for ax in (win.h, win.w):
        span = ax.size + ax.pad_begin + ax.pad_end - ((ax.kernel - 1) * ax.dilation + 1)
        want = (math.ceil if ceil_mode else math.floor)(span / ax.stride) + 1
        if span < 0 or want != ax.out:
            raise unsupported(node, f"output size {ax.out} does not match the window "
                                    f"(expected {want})")
        if (ax.out - 1) * ax.stride >= ax.size + ax.pad_begin:
            raise unsupported(node, "ceil_mode with a last window starting in the padding")
