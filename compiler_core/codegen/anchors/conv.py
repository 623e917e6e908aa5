"""Conv as an anchor: the shape algebra and the choice of algorithm.

``Y[n, m, oh, ow] = B[m] + sum_{c, ki, kj} W[m, c, ki, kj] * X[n, g*Cg + c, ih, iw]`` with
``g = m / Mg``, ``ih = oh*sh - ph + ki*dh`` (same for w) and zero outside the input.

- one input channel per group (depthwise, depth multiplier allowed): direct loops
  (:mod:`.conv_depthwise`);
- otherwise GEMM per batch and group, ``Y_g[Mg, OH*OW] = W_g[Mg, K] x cols[K, OH*OW]`` with
  ``K = Cg*kh*kw`` — a 1x1 stride-1 unpadded conv reads ``cols`` straight from X, the others
  fill an im2col panel per tile (:mod:`.conv_gemm`).

A fused prologue on X is materialized before the anchor (``needs``); the bias, then the fused
element-wise epilogue, run on each output tile right after it is computed.
"""

from __future__ import annotations

import math

import onnx_ir as ir

from compiler_core.codegen.anchors import conv_packed
from compiler_core.codegen.anchors import gemm_packed_a as pa
from compiler_core.codegen.anchors.base import Epilogue
from compiler_core.codegen.anchors.conv_depthwise import emit_depthwise
from compiler_core.codegen.anchors.conv_direct import (
    OFFSETS,
    PACKED,
    direct_plan,
    packed_weights,
    tap_offsets,
)
from compiler_core.codegen.anchors.conv_gemm import emit_gemm, workspace
from compiler_core.codegen.anchors.conv_shape import (
    ConvShape,
    conv_shape,
    float_only,
    is_depthwise,
)
from compiler_core.codegen.anchors.conv_winograd import (
    U_ROLE,
    WinoPlan,
    emit_winograd,
    is_deep,
    packed_u,
    transformed_weights,
    wino_plan,
)
from compiler_core.codegen.attrs import unsupported
from compiler_core.codegen.c.printer import render
from compiler_core.codegen.c.stmt import If
from compiler_core.codegen.context import KernelContext
from compiler_core.ir.ecg import value_shape


def _prologue_in_panel(ctx: KernelContext, x: ir.Value, s) -> bool:
    """A fused prologue on X is evaluated while filling the GEMM panel when every element is
    read once (1x1 kernels). With more taps a separate pass that materializes X measured
    faster (the panel loops are short and the prologue would run once per tap)."""
    return not is_depthwise(s) and x in ctx.producer and s.win.taps == 1


class ConvAnchor:
    tiled_epilogue = True

    def needs(self, ctx: KernelContext, node: ir.Node) -> set[ir.Value]:
        float_only(node)
        conv_shape(node)
        if math.prod(value_shape(node.outputs[0])) == 0:
            raise unsupported(node, "empty output")
        s = conv_shape(node)
        x = node.inputs[0]
        out = {v for v in node.inputs[1:] if v is not None and v not in ctx.materialized}
        if x not in ctx.materialized and not _prologue_in_panel(ctx, x, s):
            out.add(x)
        return out

    def derived(self, ctx: KernelContext, node: ir.Node) -> dict[str, ir.Value]:
        """W in the form the chosen path reads, in this order of preference: transformed for
        Winograd (:mod:`.conv_winograd`); on x86-64, packed as the B of the transposed GEMM on
        small images (:mod:`.conv_packed`) or in row strips for ``dnf_gemm_pa`` on larger ones
        (:mod:`.gemm_packed_a`); else the implicit-GEMM kernel's tap offsets and packed W
        (:mod:`.conv_direct`) when that path applies; else nothing (im2col + sgemm)."""
        s = conv_shape(node)
        p = wino_plan(s) if node.inputs[0] in ctx.materialized else None
        u = transformed_weights(node, s, p, packed_u(ctx, s, p)) if p is not None else None
        if u is not None:
            return {U_ROLE: u}
        if conv_packed.applies(ctx, node, s):
            out = {conv_packed.ROLE: conv_packed.packed_weights(node, s)}
            q = _deep_wino(ctx, node, s)
            if q is not None:  # both forms: a run-time branch picks (see emit)
                out[U_ROLE] = transformed_weights(node, s, q, packed_u(ctx, s, q))
            return out
        w = pa.constant_weights(node.inputs[1])
        if ctx.packed_gemm and w is not None and not is_depthwise(s) and pa.applies(s):
            return {pa.ROLE: pa.packed_value(f"{node.inputs[1].name or 'w'}_packed_a",
                                             w.reshape(s.g, s.mg, s.k))}
        d = direct_plan(s)
        if d is None or node.inputs[0] not in ctx.materialized:
            return {}
        packed = packed_weights(node, s)
        out = {OFFSETS: tap_offsets(s, d)}
        return out if packed is None else {**out, PACKED: packed}

    def workspace(self, ctx: KernelContext, node: ir.Node) -> int:
        s = conv_shape(node)
        if conv_packed.ROLE in ctx.derived and U_ROLE in ctx.derived:
            return max(conv_packed.workspace(node, s), _deep_wino(ctx, node, s).ws)
        if conv_packed.ROLE in ctx.derived:
            return conv_packed.workspace(node, s)
        if U_ROLE in ctx.derived:
            return wino_plan(s).ws
        if is_depthwise(s):
            return 0
        return workspace(s, node.inputs[0] in ctx.materialized, pa.ROLE in ctx.derived)

    def emit(self, ctx: KernelContext, node: ir.Node, epilogue: Epilogue | None) -> list[str]:
        s = conv_shape(node)
        if is_depthwise(s):
            return emit_depthwise(ctx, node, s, epilogue)
        if conv_packed.ROLE in ctx.derived and U_ROLE in ctx.derived:
            # a deep conv on a small image: the transposed packed path with AVX-512, F(2,3)
            # below it (conv_winograd.DEEP_CM)
            wino = emit_winograd(ctx, node, s, _deep_wino(ctx, node, s), epilogue)
            return render([If("dnf_gemm_isa() == 2", conv_packed.emit(ctx, node, s, epilogue),
                              wino)], 1)
        if conv_packed.ROLE in ctx.derived:
            return render(conv_packed.emit(ctx, node, s, epilogue), 1)
        return emit_gemm(ctx, node, s, epilogue)

    def stores_residual_last(self, ctx: KernelContext, node: ir.Node) -> bool:
        """Whether every path :meth:`emit` may take applies a stored residual epilogue
        (``stored_epilogue``) as the one write of each output element, reading the residual
        at that element just before (so the output may be stored over the residual, see
        ``BlockKernel.find_residual_storage``): the transposed packed path (``dnf_transpose``
        writes Y from the GEMM's scratch) without its F(2,3) alternative, and ``dnf_gemm_pa``
        when the depth is one partial sum (deeper, its first partial sums are stored in C
        before the residual is added)."""
        s = conv_shape(node)
        if is_depthwise(s) or U_ROLE in ctx.derived or OFFSETS in ctx.derived:
            return False
        if conv_packed.ROLE in ctx.derived:
            return True
        return pa.ROLE in ctx.derived and s.k <= pa.DEPTH_BLOCK

    def replaces(self, ctx: KernelContext, node: ir.Node) -> set[ir.Value]:
        """W, when only its packed form is read (:mod:`.conv_packed`, :mod:`.gemm_packed_a`)."""
        return {node.inputs[1]} if {conv_packed.ROLE, pa.ROLE} & set(ctx.derived) else set()


def _deep_wino(ctx: KernelContext, node: ir.Node, s: ConvShape) -> WinoPlan | None:
    """The F(2,3) plan of a deep conv that :func:`.conv_winograd.choose_m` leaves to the
    transposed packed path (:data:`.conv_winograd.DEEP_CM`), kept for CPUs without AVX-512;
    None for other convs."""
    if not is_deep(s) or node.inputs[0] not in ctx.materialized:
        return None
    return wino_plan(s, deep=True)
