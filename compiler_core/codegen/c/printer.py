"""One printer for the statement tree (:mod:`compiler_core.codegen.c.stmt`): it alone decides
indentation (four spaces a level), braces and where OpenMP pragmas go."""

from __future__ import annotations

from compiler_core.codegen.c.affine import Affine
from compiler_core.codegen.c.stmt import (
    Assign,
    Block,
    Comment,
    Decl,
    Expr,
    For,
    Function,
    If,
    Omp,
    Raw,
    Region,
    Stmt,
    While,
)

PAD = "    "


def _c(x: str | int | Affine) -> str:
    return x.c() if isinstance(x, Affine) else str(x)


def _flag(flag: str | None) -> str:
    return f" reduction(|:{flag})" if flag else ""


def render(stmts: list[Stmt], depth: int = 0) -> list[str]:
    """Lines of ``stmts`` at nesting ``depth``."""
    out: list[str] = []
    for s in stmts:
        _emit(s, depth, out)
    return out


def _simple(body: list[Stmt]) -> bool:
    """One statement printed on one line (a simple statement or an inline loop of one)."""
    if len(body) != 1:
        return False
    s = body[0]
    return isinstance(s, (Decl, Assign, Expr)) or (
        isinstance(s, For) and s.inline and s.omp is Omp.SERIAL and _simple(s.body))


def _emit(s: Stmt, d: int, out: list[str]) -> None:
    pad = PAD * d
    if isinstance(s, Comment):
        out.append(f"{pad}/* {s.text} */")
    elif isinstance(s, Decl):
        q = "const " if s.const else ""
        init = "" if s.init is None else f" = {_c(s.init)}"
        out.append(f"{pad}{q}{s.ctype} {s.name}{init};")
    elif isinstance(s, Assign):
        out.append(f"{pad}{s.target} {s.op} {_c(s.value)};")
    elif isinstance(s, Expr):
        out.append(f"{pad}{s.text};")
    elif isinstance(s, Raw):
        out += [pad + ln if ln else ln for ln in s.lines]
    elif isinstance(s, If) and s.inline and s.then and all(_simple([t]) for t in s.then):
        one = [render([t])[0] for t in s.then]
        then = one[0] if len(one) == 1 else f"{{ {' '.join(one)} }}"
        if not s.orelse:
            out.append(f"{pad}if ({s.cond}) {then}")
            return
        out.append(f"{pad}if ({s.cond}) {then} else {{")
        out += render(s.orelse, d + 1)
        out.append(f"{pad}}}")
    elif isinstance(s, If):
        out.append(f"{pad}if ({s.cond}) {{")
        out += render(s.then, d + 1)
        if s.orelse:
            out.append(f"{pad}}} else {{")
            out += render(s.orelse, d + 1)
        out.append(f"{pad}}}")
    elif isinstance(s, While):
        out.append(f"{pad}while ({s.cond}) {{")
        out += render(s.body, d + 1)
        out.append(f"{pad}}}")
    elif isinstance(s, Block):
        out.append(f"{pad}{{")
        out += render(s.body, d + 1)
        out.append(f"{pad}}}")
    elif isinstance(s, For):
        if s.omp is not Omp.SERIAL:
            nt = f" num_threads({s.num_threads})" if s.num_threads else ""
            sched = "" if s.omp is Omp.SIMD else " schedule(static)"
            clause = f" {s.clause}" if s.clause else ""
            out.append(f"{pad}#pragma omp {s.omp.value}{nt}{sched}{clause}{_flag(s.flag)}")
        v = s.var
        step = f"++{v}" if s.step == 1 else f"{v} += {s.step}"
        head = f"{pad}for (int64_t {v} = {_c(s.lo)}; {v} < {_c(s.hi)}; {step})"
        if s.inline and _simple(s.body):
            out.append(f"{head} {render(s.body)[0]}")
            return
        out.append(head + " {")
        out += render(s.body, d + 1)
        out.append(f"{pad}}}")
    elif isinstance(s, Region):
        nt = f" num_threads({s.num_threads})" if s.num_threads else ""
        out.append(f"{pad}#pragma omp parallel{nt}{_flag(s.flag)}")
        out.append(f"{pad}{{")
        out += render(s.body, d + 1)
        out.append(f"{pad}}}")
    elif isinstance(s, Function):
        if s.comment is not None:
            out.append(f"{pad}/* {s.comment} */")
        attrs = f"{s.attrs} " if s.attrs else ""
        out.append(f"{pad}{attrs}static {s.ret} {s.name}({s.params}) {{")
        out += render(s.body, d + 1)
        out.append(f"{pad}}}")
    else:  # pragma: no cover - a new node type without a printer rule
        raise TypeError(f"no printer rule for {type(s).__name__}")
