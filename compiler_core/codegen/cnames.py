"""C spelling: identifiers the generator makes, literals, dtypes, sanitized comments.

Nothing from the model (node, tensor or attribute names) ever becomes C code: identifiers come
from :class:`Names` only, and model names appear solely inside comments after
:func:`comment` has reduced them to ``[A-Za-z0-9_./-]``.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass

import numpy as np
import onnx_ir as ir

from compiler_core.errors import UnsupportedOperatorError


class Names:
    """Fresh C identifiers: a fixed prefix chosen by the generator plus a counter."""

    def __init__(self) -> None:
        self._count: dict[str, int] = {}

    def fresh(self, prefix: str) -> str:
        assert re.fullmatch(r"[a-z]{1,3}", prefix), prefix
        n = self._count.get(prefix, 0)
        self._count[prefix] = n + 1
        return f"{prefix}{n}"


_UNSAFE = re.compile(r"[^A-Za-z0-9_./-]")


def comment(text: str, limit: int = 60) -> str:
    """Model-provided text made safe for a C comment (no ``*/``, quotes or newlines)."""
    safe = _UNSAFE.sub("_", str(text))[:limit]
    # "/" and "*" can no longer pair up ("*" is replaced above), so "*/" and "/*" are impossible.
    return safe


@dataclass(frozen=True)
class CType:
    c: str  # C type name
    np: type  # numpy scalar type
    onnx: str  # ORT-style type string
    is_float: bool


_CTYPES = {
    ir.DataType.FLOAT: CType("float", np.float32, "tensor(float)", True),
    ir.DataType.INT64: CType("int64_t", np.int64, "tensor(int64)", False),
    ir.DataType.INT32: CType("int32_t", np.int32, "tensor(int32)", False),
    ir.DataType.BOOL: CType("uint8_t", np.bool_, "tensor(bool)", False),
    ir.DataType.UINT8: CType("uint8_t", np.uint8, "tensor(uint8)", False),
    ir.DataType.INT8: CType("int8_t", np.int8, "tensor(int8)", False),
}

NP_TO_DTYPE = {np.dtype(t.np).name: dt for dt, t in _CTYPES.items()}


def ctype_of(value: ir.Value) -> CType:
    """The C type of a tensor; other dtypes raise :class:`UnsupportedOperatorError`."""
    dt = value.dtype
    if dt not in _CTYPES:
        raise UnsupportedOperatorError(
            f"tensor {comment(value.name or '?')!r} has dtype {dt}, which code generation does "
            "not support (float32, int64, int32, int8, uint8, bool)"
        )
    return _CTYPES[dt]


def float_literal(x: float) -> str:
    """An exact C float literal (hexadecimal) for a float32 value."""
    f = float(np.float32(x))
    if math.isnan(f):
        return "NAN"
    if math.isinf(f):
        return "INFINITY" if f > 0 else "(-INFINITY)"
    if f == 0.0:
        return "-0.0f" if math.copysign(1.0, f) < 0 else "0.0f"
    # The shortest decimal that reads back as the same float32 (C rounds correctly).
    a = np.float32(abs(f))
    if 1e-4 <= a < 1e7:
        text = np.format_float_positional(a, unique=True, trim="0")
    else:
        text = np.format_float_scientific(a, unique=True, trim="0")
    assert np.float32(float(text)) == a
    return f"{text}f" if f > 0 else f"(-{text}f)"


def int_literal(n: int) -> str:
    n = int(n)
    if n == -(2**63):
        return "INT64_MIN"
    return f"INT64_C({n})" if n >= 0 else f"(-INT64_C({-n}))"


def literal(x, ctype: CType) -> str:
    """A C literal of ``x`` converted to ``ctype``."""
    if ctype.is_float:
        return float_literal(float(x))
    if ctype.np is np.bool_:
        return "1" if bool(x) else "0"
    return f"(({ctype.c}){int_literal(int(x))})"
