"""C spelling: identifiers the generator makes, literals, dtypes, sanitized comments, templates.

Nothing from the model (node, tensor or attribute names) ever becomes C code: identifiers come
from :class:`Names` only; model text reaches C only as a string literal made by
:func:`c_string` or inside a comment after :func:`comment` has reduced it to
``[A-Za-z0-9_./-]``. C templates are filled by :func:`fill` in one pass, so text put into a
template is never scanned for placeholders again.
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


# Printable ASCII that stands for itself inside a C string literal: everything from space to
# "~" except the quote, the backslash and "?" (which could start a trigraph such as ??/ , and
# -std=c11 honours trigraphs).
_PLAIN = frozenset(range(0x20, 0x7F)) - {ord('"'), ord("\\"), ord("?")}
_ESCAPES = {ord('"'): '\\"', ord("\\"): "\\\\", ord("?"): "\\?"}
ELLIPSIS = b"..."


def text_bytes(text: str | bytes) -> bytes:
    """The bytes of model text: UTF-8; lone surrogates (bytes that were not UTF-8, decoded
    with ``surrogateescape``) become their original bytes, any other surrogate is encoded as
    is (``surrogatepass``), so every ``str`` has a byte spelling."""
    if isinstance(text, bytes):
        return text
    try:
        return text.encode("utf-8", "surrogateescape")
    except UnicodeEncodeError:
        return text.encode("utf-8", "surrogatepass")


def c_string(text: str | bytes, limit: int | None = None) -> str:
    """A C string literal (quotes included) whose bytes are those of ``text`` (see
    :func:`text_bytes`); the literal itself is printable ASCII only.

    Bytes outside printable ASCII are three-digit octal escapes (``\\012``; three digits, so a
    following digit never joins the escape, unlike greedy hexadecimal escapes); ``"``, ``\\``
    and ``?`` are backslash-escaped, so the literal cannot end early, splice lines or form a
    trigraph. A NUL byte becomes ``\\000`` (C string functions then stop there; such names
    are for display only).

    ``limit``: at most this many bytes of ``text`` are kept; a longer text is cut back to a
    UTF-8 character boundary at or below ``limit`` bytes and ``...`` is appended (so a cut
    literal holds at most ``limit + 3`` bytes). ``None`` keeps the text whole.
    """
    data = text_bytes(text)
    if limit is not None and len(data) > limit:
        cut = limit
        while 0 < cut < len(data) and (data[cut] & 0xC0) == 0x80:
            cut -= 1  # do not split a multi-byte UTF-8 character
        data = data[:cut] + ELLIPSIS
    out = ['"']
    for b in data:
        if b in _PLAIN:
            out.append(chr(b))
        else:
            out.append(_ESCAPES.get(b) or f"\\{b:03o}")
    out.append('"')
    return "".join(out)


_PLACEHOLDER = re.compile(r"@([A-Z][A-Z0-9_]*)@")


def fill(template: str, values: dict[str, object]) -> str:
    """``template`` with every ``@NAME@`` replaced by ``str(values[NAME])`` in a single pass
    (``re.sub``): replacement text is never scanned again, so a value that contains
    ``@OTHER@`` stays literal text. A placeholder without a value, or a value without a
    placeholder, raises ``KeyError`` (a template bug, not bad input)."""
    used: set[str] = set()

    def one(m: re.Match) -> str:
        used.add(m.group(1))
        return str(values[m.group(1)])

    out = _PLACEHOLDER.sub(one, template)
    unused = set(values) - used
    if unused:
        raise KeyError(f"template has no placeholder for {sorted(unused)}")
    return out


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
