"""The fixed C text of model.c, kept as resource files beside this module.

``prelude.c`` (includes, sizes, ``dnf_ctx``/``dnf_model``, the trace slot, the timer) opens
every model; ``entry.c`` (``dnf_create``/``dnf_run``/... and the call sequence) closes it.
Helpers a kernel may call are emitted only when the kernels call them: :data:`HELPERS` maps a
helper's C name to its file. Templates are filled by :func:`~compiler_core.codegen.cnames.fill`
(``@NAME@`` placeholders, one pass).
"""

from __future__ import annotations

import re
from functools import cache
from importlib import resources

HELPERS = {
    "dnf_row_tile": "dnf_row_tile.c",  # rows per sgemm call of a row-tiled GEMM
    "dnf_erff": "dnf_erff.c",  # vectorizable float erf (Erf, Gelu)
    "dnf_dconv": "dnf_dconv.c",  # conv as an implicit GEMM (AVX-512 kernel, run-time check)
}


@cache
def text(name: str) -> str:
    """The resource file ``name`` of this package (UTF-8)."""
    return resources.files(__package__).joinpath(name).read_text(encoding="utf-8")


def helpers_for(kernels: str) -> str:
    """The helper definitions the C text ``kernels`` calls, in :data:`HELPERS` order."""
    used = [n for n in HELPERS if re.search(rf"\b{n}\(", kernels)]
    return "".join(text(HELPERS[n]) + "\n" for n in used)
