"""Affine index expressions: ``sum(coeff * var) + const`` over C integer variables.

An index the generator computes (a loop variable times a stride, a slice's ``start + step*i``,
a concat's ``i - offset``) is an :class:`Affine` until it is printed, so adding, scaling and
substituting are arithmetic on a dictionary, never on C text. A "variable" is a C expression
the generator made that binds tighter than ``*``: a loop variable or local (``i3``, ``t7``) or
an opaque atom made by :func:`atom` (``(r0 / 12)``, a division or remainder). Terms print in
the order they were first added, the constant last:
``Affine({"i0": 768, "i1": 1})`` prints as ``i0*768 + i1``.
"""

from __future__ import annotations

from collections.abc import Mapping


class Affine:
    """``{var: coeff} + const`` (coefficients and constant are Python ints; zero terms are
    dropped). Immutable; equal when the same variables have the same coefficients."""

    __slots__ = ("terms", "const", "_key")

    def __init__(self, terms: Mapping[str, int] | None = None, const: int = 0) -> None:
        self.terms: dict[str, int] = {v: int(c) for v, c in (terms or {}).items() if c != 0}
        self.const = int(const)
        self._key = (frozenset(self.terms.items()), self.const)

    # -- construction ----------------------------------------------------------------------
    @staticmethod
    def of(x: Affine | int | str) -> Affine:
        """``x`` as an affine expression: an int (or a decimal C literal) is a constant, a C
        identifier or an :func:`atom` a variable. Any other C text an emitter made is taken
        as one opaque variable, parenthesized unless one pair of parentheses encloses it."""
        if isinstance(x, Affine):
            return x
        if not isinstance(x, str):
            return Affine(None, x.__index__())
        if isinstance(x, Atom) or x.isidentifier():
            return Affine({x: 1})
        text = x.strip()
        if text.lstrip("-").isdigit():
            return Affine(None, int(text))
        return Affine({text if _enclosed(text) else f"({text})": 1})

    # -- arithmetic -----------------------------------------------------------------------
    def __add__(self, other: Affine | int | str) -> Affine:
        o = Affine.of(other)
        terms = dict(self.terms)
        for v, c in o.terms.items():
            terms[v] = terms.get(v, 0) + c
        return Affine(terms, self.const + o.const)

    __radd__ = __add__

    def __sub__(self, other: Affine | int | str) -> Affine:
        return self + Affine.of(other).scale(-1)

    def scale(self, c: int) -> Affine:
        return Affine({v: k * c for v, k in self.terms.items()}, self.const * c)

    def __mul__(self, c: int) -> Affine:
        assert isinstance(c, int), c
        return self.scale(c)

    __rmul__ = __mul__

    def substitute(self, mapping: Mapping[str, Affine | int | str]) -> Affine:
        """The expression with each variable in ``mapping`` replaced by its value."""
        out = Affine(None, self.const)
        for v, c in self.terms.items():
            out = out + (Affine.of(mapping[v]).scale(c) if v in mapping else Affine({v: c}))
        return out

    # -- queries --------------------------------------------------------------------------
    @property
    def is_const(self) -> bool:
        return not self.terms

    @property
    def var(self) -> str | None:
        """The variable when the expression is exactly one variable, else ``None``."""
        if self.const == 0 and len(self.terms) == 1:
            (v, c), = self.terms.items()
            return v if c == 1 else None
        return None

    def __eq__(self, other: object) -> bool:
        if isinstance(other, (int, str)):
            other = Affine.of(other)
        return isinstance(other, Affine) and self._key == other._key

    def __hash__(self) -> int:
        return hash(self._key)

    # -- printing -------------------------------------------------------------------------
    def c(self) -> str:
        """C text at the top of an expression (a subscript): ``i0*768 + i1 - 4``."""
        parts: list[str] = []
        for v, c in self.terms.items():
            mag = v if abs(c) == 1 else f"{v}*{abs(c)}"
            if not parts:
                parts.append(mag if c > 0 else f"-{mag}")
            else:
                parts.append(f"+ {mag}" if c > 0 else f"- {mag}")
        if not parts:
            return str(self.const)
        if self.const:
            parts.append(f"+ {self.const}" if self.const > 0 else f"- {-self.const}")
        return " ".join(parts)

    def __str__(self) -> str:
        """C text safe inside any larger expression (parenthesized unless atomic)."""
        if self.is_const:
            return str(self.const) if self.const >= 0 else f"({self.const})"
        if self.var is not None:
            return self.var
        if self.const == 0 and len(self.terms) == 1 and next(iter(self.terms.values())) > 0:
            return self.c()  # v*c: binds like a product (as a callee's "a*c" always did)
        return f"({self.c()})"

    def __repr__(self) -> str:
        return f"Affine({self.terms!r}, {self.const})"


class Atom(str):
    """C text the generator made that binds tighter than any operator (see :func:`atom`)."""


def atom(text: str) -> Atom:
    """A non-affine C integer expression made by the generator (a division, a remainder),
    parenthesized so it can stand as a variable of an :class:`Affine`."""
    return Atom(f"({text})")


def _enclosed(text: str) -> bool:
    """True when the first ``(`` of ``text`` is closed by its last character."""
    if not (text.startswith("(") and text.endswith(")")):
        return False
    depth = 0
    for k, ch in enumerate(text):
        depth += (ch == "(") - (ch == ")")
        if depth == 0:
            return k == len(text) - 1
    return False
