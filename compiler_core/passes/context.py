"""The state a rewrite shares between rules: options, names, and how a match is applied.

``finish`` prices a match (FLOPs and reads of the nodes that die versus the nodes it creates)
and refuses it when it would break the graph's interface; ``apply`` materializes the
replacement just before the root, rewires the root's consumers (graph outputs keep their
names), and removes the nodes left without consumers.
"""

from __future__ import annotations

import itertools
import os
from collections import Counter

import onnx_ir as ir

from compiler_core.passes import expr as ex
from compiler_core.passes import matcher as mt
from compiler_core.passes.cost import node_flops, node_reads
from compiler_core.passes.match import Match
from compiler_core.passes.nomatch import NoMatch, require

STRICT_ENV = "DNNFUSION_STRICT_RULES"


def strict_rules_from_env() -> bool:
    """``$DNNFUSION_STRICT_RULES`` is ``1``/``true``/``yes``: a crashing rule is an error."""
    return os.environ.get(STRICT_ENV, "").strip().lower() in ("1", "true", "yes")


class RewriteContext:
    """``strict_rules``: an exception inside a rule propagates
    (:class:`~compiler_core.passes.rule.RuleCrashError`) instead of being reported as a
    ``"rule error"`` refusal; ``None`` reads ``$DNNFUSION_STRICT_RULES``."""

    def __init__(
        self, model: ir.Model, *, fast_math: bool = False, strict_rules: bool | None = None
    ) -> None:
        self.model = model
        self.fast_math = fast_math
        self.strict_rules = strict_rules_from_env() if strict_rules is None else strict_rules
        self.counts: Counter[str] = Counter()
        self.opset = model.graph.opset_imports.get("", model.opset_imports.get("", 21))
        self._used: set[str] | None = None
        self._serial = itertools.count()

    @property
    def graph(self) -> ir.Graph:
        return self.model.graph

    # ---- conditions -------------------------------------------------------------------------

    def condition(self, proven: bool, reason: str) -> None:
        """For CONDITIONAL rules: pass when proven or under fast_math, else refuse."""
        if not proven and not self.fast_math:
            raise NoMatch(f"condition not proven: {reason} (allowed with fast_math)")

    # ---- pricing ----------------------------------------------------------------------------

    def finish(self, m: Match) -> None:
        """Fill in dead nodes and costs; raise NoMatch if the match cannot be applied."""
        root = m.root
        require(len(m.replacement) == len(root.outputs), "replacement arity mismatch")
        for out, rep in zip(root.outputs, m.replacement, strict=True):
            if rep is None:
                require(not out.uses() and not out.is_graph_output(), f"{out.name} is used")
                continue
            require(
                ex.shape_of(rep) == mt.shape(out), f"shape {ex.shape_of(rep)} != {mt.shape(out)}"
            )
            require(ex.dtype_of(rep) == out.dtype, "replacement changes the dtype")
            if out.is_graph_output() and not isinstance(rep, ex.Expr):
                require(
                    isinstance(rep, ir.Value)
                    and not rep.is_graph_input()
                    and not rep.is_graph_output()
                    and not mt.is_constant(rep),
                    f"graph output {out.name} would alias an input, constant or other output",
                )
        if isinstance(m.replacement[0], ex.Expr) and ex.is_const(m.replacement[0]):
            require(not root.outputs[0].is_graph_output(), "a graph output would become a constant")
        m.dead = self._dead_nodes(m)
        if m.require_dead:
            alive = [n for n in m.nodes if n not in m.dead]
            require(not alive, f"{alive[0].name if alive else ''} is also used outside the pattern")
        m.flops_before = sum(node_flops(n, mt.is_constant) for n in m.dead)
        m.reads_before = sum(node_reads(n, mt.is_constant) for n in m.dead)
        m.flops_after, m.reads_after = ex.expr_cost(list(m.replacement))

    def _dead_nodes(self, m: Match) -> list[ir.Node]:
        keep: list[ir.Value] = []
        for rep in m.replacement:
            keep += ex.values_in(rep)
        dead = [m.root]
        changed = True
        while changed:
            changed = False
            for n in m.nodes:
                if n in dead:
                    continue
                if all(
                    not v.is_graph_output()
                    and all(v is not k for k in keep)
                    and all(u.node in dead for u in v.uses())
                    for v in n.outputs
                ):
                    dead.append(n)
                    changed = True
        return dead

    # ---- application ------------------------------------------------------------------------

    def apply(self, m: Match) -> None:
        """Materialize ``m``'s replacement and remove its dead nodes."""
        assert m.rule_name
        made: dict[int, ir.Value] = {}
        new_nodes: list[ir.Node] = []
        for out, rep in zip(m.root.outputs, m.replacement, strict=True):
            if rep is None:
                continue
            new = self._materialize(rep, m.rule_name, made, new_nodes)
            if out.is_graph_output():
                name = out.name
                out.name = self.fresh(f"{name}_replaced")
                new.name = name
            out.replace_all_uses_with(new, replace_graph_outputs=True)
        if new_nodes:
            self.graph.insert_before(m.root, new_nodes)
        for n in m.dead:  # root first, then producers: consumers go before their producers
            self.graph.remove(n, safe=True)
        self.counts[m.rule_name] += 1

    def _materialize(
        self, x: ex.Operand, tag: str, made: dict[int, ir.Value], nodes: list[ir.Node]
    ) -> ir.Value:
        if isinstance(x, ir.Value):
            return x
        if id(x) in made:
            return made[id(x)]
        if isinstance(x, ex.Const):
            value = self.initializer(x.array, tag)
        else:
            ins = [None if i is None else self._materialize(i, tag, made, nodes) for i in x.inputs]
            dtype = ex.dtype_of(x)
            arrays = [mt.const_array(v) for v in ins]
            if ex.foldable(x.op) and all(a is not None for a in arrays):
                folded = ex.evaluate(x.op, arrays, dtype.numpy())  # type: ignore[arg-type]
                value = self.initializer(folded, tag)
            else:
                value = ir.Value(
                    name=self.fresh(f"{tag}_{x.op}"),
                    shape=ir.Shape(ex.shape_of(x)),
                    type=ir.TensorType(dtype),
                )
                node = ir.Node(
                    "",
                    x.op,
                    ins,
                    attributes=ir.convenience.convert_attributes(x.attrs),
                    outputs=[value],
                    name=self.fresh(f"{tag}/{x.op}"),
                )
                nodes.append(node)
        made[id(x)] = value
        return value

    # ---- names and constants ----------------------------------------------------------------

    def forget_names(self) -> None:
        """Another pass renamed or added values: rescan names on next use."""
        self._used = None

    def fresh(self, base: str) -> str:
        """A value/node name not used anywhere in the graph."""
        if self._used is None:
            used: set[str] = set()
            g = self.graph
            for v in itertools.chain(g.inputs, g.outputs, g.initializers.values()):
                used.add(v.name or "")
            for n in g:
                used.add(n.name or "")
                used.update(v.name or "" for v in n.outputs)
            self._used = used
        name = base
        while name in self._used:
            name = f"{base}_{next(self._serial)}"
        self._used.add(name)
        return name

    def initializer(self, array, base: str) -> ir.Value:
        """Register a new initializer holding ``array``."""
        name = self.fresh(f"{base}_const")
        tensor = ir.tensor(array, name=name)
        value = ir.Value(
            name=name,
            shape=ir.Shape(tensor.shape),
            type=ir.TensorType(tensor.dtype),
            const_value=tensor,
        )
        self.graph.register_initializer(value)
        return value
