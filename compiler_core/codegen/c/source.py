"""The fixed C text of model.c, kept as resource files beside this module.

``prelude.c`` (includes, sizes, ``dnf_ctx``/``dnf_model``, the trace slot, the timer) opens
every model; ``entry.c`` (``dnf_create``/``dnf_run``/... and the call sequence) closes it.
Helpers a kernel may call are emitted only when the kernels call them: :data:`HELPERS` maps a
helper's C name to its file, a helper before the helpers that call it (``dnf_tanhf`` calls
``dnf_expf``: a kernel calling ``dnf_tanhf`` gets both). The float math helpers (``dnf_expf``,
``dnf_logf``, ``dnf_tanhf``...) replace libm calls so the element-wise loops vectorize; each
file's comment states its measured max error (:mod:`compiler_core.codegen.c.accuracy`).
Templates are filled by :func:`~compiler_core.codegen.cnames.fill` (``@NAME@`` placeholders,
one pass).
"""

from __future__ import annotations

import re
from functools import cache
from importlib import resources

HELPERS = {
    "dnf_row_tile": "dnf_row_tile.c",  # rows per sgemm call of a row-tiled GEMM
    "dnf_erff": "dnf_erff.c",  # vectorizable float erf (Erf, Gelu)
    "dnf_dconv": "dnf_dconv.c",  # conv as an implicit GEMM (AVX-512 kernel, run-time check)
    "dnf_gemm_isa": "dnf_gemm_isa.c",  # SIMD level of the packed GEMMs (run-time check)
    "dnf_gemm_pb": "dnf_gemm_pb.c",  # GEMM with B packed at compile time (anchors/gemm_packed)
    "dnf_gemm_pa": "dnf_gemm_pa.c",  # GEMM with A packed at compile time (anchors/gemm_packed_a)
    "dnf_transpose": "dnf_transpose.c",  # float matrix transpose (anchors/conv_packed)
    "dnf_pool_plane": "dnf_pool.c",  # a pooling plane in AVX-512 (anchors/pool)
    "dnf_expf": "dnf_expf.c",  # vectorizable float e^x (Exp, Softmax, LogSumExp, Gelu tanh)
    "dnf_expm1f": "dnf_expm1f.c",  # e^x - 1 (Elu, Celu, Selu)
    "dnf_logf": "dnf_logf.c",  # natural log (Log)
    "dnf_tanhf": "dnf_tanhf.c",  # tanh (Tanh), calls dnf_expf
    "dnf_sigmoidf": "dnf_sigmoidf.c",  # logistic (Sigmoid), calls dnf_expf
    "dnf_softplusf": "dnf_softplusf.c",  # log(1 + e^x) (Softplus), calls dnf_expf, dnf_logf
    "dnf_mishf": "dnf_mishf.c",  # x tanh(softplus(x)) (Mish), calls dnf_expf
}


@cache
def text(name: str) -> str:
    """The resource file ``name`` of this package (UTF-8)."""
    return resources.files(__package__).joinpath(name).read_text(encoding="utf-8")


def _calls(c_text: str) -> set[str]:
    return {n for n in HELPERS if re.search(rf"\b{n}\(", c_text)}


def helpers_for(kernels: str) -> str:
    """The helper definitions the C text ``kernels`` calls, and the helpers those call, in
    :data:`HELPERS` order (a helper after the ones it calls)."""
    used, todo = set(), _calls(kernels)
    while todo:
        name = todo.pop()
        used.add(name)
        todo |= _calls(text(HELPERS[name])) - used
    return "".join(text(HELPERS[n]) + "\n" for n in HELPERS if n in used)
