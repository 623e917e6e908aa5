"""Reading an arithmetic sub-graph as a polynomial, for the recognition rules.

Exporters write the same activation in many orderings: ``x*0.5*(1+erf(x/√2))``,
``0.5*x*(1+erf(x*0.7071))``, ``(x*(erf(..)+1))*0.5``... Rather than one pattern per ordering,
a recognizer names its *atoms* (``x`` and the ``Erf`` output) and asks for the polynomial the
Add/Sub/Mul/Div/Neg/Pow nodes above them compute; it then compares coefficients within float
tolerance. Constants must be one-element tensors; any other leaf refuses the match.
"""

from __future__ import annotations

from collections.abc import Sequence

import onnx_ir as ir

from compiler_core.passes import matcher as mt
from compiler_core.passes.nomatch import NoMatch, require

ARITH = {"Add", "Sub", "Mul", "Div", "Neg", "Pow"}

Mono = tuple[int, ...]  # exponent of each atom
Poly = dict[Mono, float]


def _add(p: Poly, q: Poly, sign: float = 1.0) -> Poly:
    out = dict(p)
    for m, c in q.items():
        out[m] = out.get(m, 0.0) + sign * c
    return {m: c for m, c in out.items() if c != 0.0}


def _mul(p: Poly, q: Poly) -> Poly:
    out: Poly = {}
    for m1, c1 in p.items():
        for m2, c2 in q.items():
            m = tuple(a + b for a, b in zip(m1, m2, strict=True))
            out[m] = out.get(m, 0.0) + c1 * c2
    return {m: c for m, c in out.items() if c != 0.0}


def polynomial(
    value: ir.Value, atoms: Sequence[ir.Value], visited: list[ir.Node], depth: int = 12
) -> Poly:
    """The polynomial ``value`` computes in ``atoms``; covered nodes are appended to
    ``visited``. Raises NoMatch when a leaf is neither an atom nor a scalar constant."""
    n = len(atoms)
    memo: dict[int, Poly] = {}

    def go(v: ir.Value, d: int) -> Poly:
        for i, a in enumerate(atoms):
            if v is a:
                return {tuple(int(j == i) for j in range(n)): 1.0}
        c = mt.scalar(v)
        if c is not None:
            return {(0,) * n: c} if c != 0.0 else {}
        if id(v) in memo:
            return memo[id(v)]
        node = mt.producer(v, *ARITH)
        require(node is not None and d > 0, f"{v.name} is not arithmetic over the atoms")
        assert node is not None
        if node not in visited:
            visited.append(node)
        op, ins = node.op_type, node.inputs
        if op == "Neg":
            p = {m: -c for m, c in go(ins[0], d - 1).items()}
        elif op == "Add":
            p = _add(go(ins[0], d - 1), go(ins[1], d - 1))
        elif op == "Sub":
            p = _add(go(ins[0], d - 1), go(ins[1], d - 1), -1.0)
        elif op == "Mul":
            p = _mul(go(ins[0], d - 1), go(ins[1], d - 1))
        elif op == "Div":
            c = mt.scalar(ins[1])
            require(c is not None and c != 0.0, f"{node.name}: divisor is not a constant")
            assert c is not None
            p = {m: k / c for m, k in go(ins[0], d - 1).items()}
        else:  # Pow
            e = mt.scalar(ins[1])
            require(e is not None and e == int(e) and 0 <= e <= 4, f"{node.name}: exponent")
            assert e is not None
            base = go(ins[0], d - 1)
            p = {(0,) * n: 1.0}
            for _ in range(int(e)):
                p = _mul(p, base)
        memo[id(v)] = p
        return p

    return go(value, depth)


def equals(p: Poly, expected: Poly, tol: float = mt.FLOAT_TOL) -> bool:
    """Same monomials, coefficients within tolerance."""
    keys = set(p) | set(expected)
    return all(mt.close(p.get(k, 0.0), expected.get(k, 0.0), tol) for k in keys)


def find_below(root: ir.Node, ops: set[str], depth: int = 8) -> list[ir.Node]:
    """Nodes of type ``ops`` reachable from ``root`` through arithmetic nodes only."""
    found: list[ir.Node] = []
    seen: set[int] = set()

    def go(node: ir.Node, d: int) -> None:
        for v in node.inputs:
            p = mt.producer(v)
            if p is None or id(p) in seen:
                continue
            seen.add(id(p))
            if p.op_type in ops:
                found.append(p)
            elif p.op_type in ARITH and d > 0:
                go(p, d - 1)

    go(root, depth)
    return found


def leaf_candidates(value: ir.Value, depth: int = 6) -> list[ir.Value]:
    """Non-constant values reachable from ``value`` through arithmetic nodes, nearest first:
    the candidates for the variable ``x`` of a recognized activation."""
    out: list[ir.Value] = []
    frontier = [value]
    for _ in range(depth):
        nxt: list[ir.Value] = []
        for v in frontier:
            node = mt.producer(v, *ARITH)
            if node is None:
                continue
            for i in node.inputs:
                if i is not None and not mt.is_constant(i) and all(i is not o for o in out):
                    out.append(i)
                    nxt.append(i)
        frontier = nxt
    return out


def attempt(fn, *args):
    """Run a sub-match; ``None`` instead of NoMatch."""
    try:
        return fn(*args)
    except NoMatch:
        return None
