"""The pass manager: clean-up and recognition to a fixpoint, the paper's greedy algebraic
rewriting (§4.2), constant folding, and again, until nothing changes.

Passes follow onnx-ir's contract (a pass takes a model and returns ``PassResult(model,
modified)``), so ``ir.passes.PassManager`` runs them to a fixpoint.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import onnx_ir as ir
import onnx_ir.passes.common as common
import onnxscript.optimizer

from compiler_core.errors import DnnFusionError, ShapeError
from compiler_core.ir.ecg import value_shape
from compiler_core.ir.ops import Prop, op_properties
from compiler_core.passes.context import RewriteContext
from compiler_core.passes.match import Match
from compiler_core.passes.rule import Rule, RuleCrashError
from compiler_core.passes.rules import ALGEBRAIC_RULES, ALL_RULES, CLEANUP_RULES, RECOGNITION_RULES

log = logging.getLogger(__name__)

MAX_SWEEPS = 50  # fixpoint bound for clean-up / recognition sweeps
MAX_GREEDY_STEPS = 10_000
OUTER_ROUNDS = 4


@dataclass
class RewriteReport:
    """What :func:`rewrite_model` did."""

    counts: dict[str, int]  # rule name -> times fired (only rules that fired)
    nodes_before: int
    nodes_after: int


def rewrite_model(model: ir.Model, *, fast_math: bool = False) -> RewriteReport:
    """Rewrite ``model`` in place (paper §4.2 plus clean-up and recognition).

    Every value keeps a static shape and dtype; raises :class:`ShapeError` if the input has
    none. With ``fast_math`` conditional and fast-math-only rules apply without proof.
    """
    check_static(model.graph)
    ctx = RewriteContext(model, fast_math=fast_math)
    nodes_before = model.graph.num_nodes()
    tidy = ir.passes.PassManager(
        [RulePass(ctx, CLEANUP_RULES + RECOGNITION_RULES)], steps=MAX_SWEEPS, early_stop=True
    )
    rounds = ir.passes.PassManager(
        [
            common.TopologicalSortPass(),
            tidy,  # exporter leftovers, decomposed LayerNorm/GELU/Softmax/HardSwish
            GreedyAlgebraicPass(ctx, ALGEBRAIC_RULES),  # paper Table 4
            FoldConstantsPass(ctx),  # constant chains the rewrites exposed
            tidy,
            common.RemoveUnusedNodesPass(),  # dead nodes and the weights folds replaced
        ],
        steps=OUTER_ROUNDS,
        early_stop=True,
    )
    finish = ir.passes.Sequential(
        common.RemoveUnusedNodesPass(), common.TopologicalSortPass(), common.NameFixPass()
    )
    try:
        rounds(model)
        finish(model)
    except ir.passes.PassError as e:  # surface our own typed errors, not the pass wrapper
        cause: BaseException | None = e
        while cause is not None and not isinstance(cause, (DnnFusionError, RuleCrashError)):
            cause = cause.__cause__
        if cause is not None:
            raise cause from None
        raise
    check_static(model.graph)
    return RewriteReport(dict(ctx.counts), nodes_before, model.graph.num_nodes())


class RulePass(ir.passes.InPlacePass):
    """One sweep in topological order; at each node the first rule that matches fires."""

    def __init__(self, ctx: RewriteContext, rules: list[Rule]) -> None:
        self.ctx, self.rules = ctx, rules

    def call(self, model: ir.Model) -> ir.passes.PassResult:
        graph, modified = model.graph, False
        for node in list(graph):
            if node.graph is not graph:
                continue  # removed by an earlier match in this sweep
            for r in self.rules:
                m = r.try_match(node, self.ctx)
                if isinstance(m, Match):
                    log.debug("%s at %s", r.name, node.name)
                    self.ctx.apply(m)
                    modified = True
                    break
        return ir.passes.PassResult(model, modified)


def subgraphs(graph: ir.Graph) -> list[list[ir.Node]]:
    """The graph cut at operators with no algebraic property (paper §4.2): connected groups
    of associative/commutative/distributive operators, each in topological order."""
    parent: dict[ir.Node, ir.Node] = {}

    def find(n: ir.Node) -> ir.Node:
        while parent[n] is not n:
            parent[n] = parent[parent[n]]
            n = parent[n]
        return n

    order = [n for n in graph if op_properties(n.domain, n.op_type) != Prop.NONE]
    for n in order:
        parent[n] = n
    for n in order:
        for v in n.inputs:
            p = v.producer() if v is not None else None
            if p is not None and p in parent:
                parent[find(p)] = find(n)
    groups: dict[ir.Node, list[ir.Node]] = {}
    for n in order:
        groups.setdefault(find(n), []).append(n)
    return list(groups.values())


def best_match(ctx: RewriteContext, rules: list[Rule], group: list[ir.Node]) -> Match | None:
    """The match with the largest FLOP reduction in ``group`` (ties: rule order, then
    topological order). A match that saves no FLOPs qualifies only if it saves reads (the
    paper's "A loaded once" rules); a match that adds FLOPs never does."""
    members = set(group)
    best: tuple[tuple[int, int, int], Match] | None = None
    for pos, node in enumerate(group):
        for k, r in enumerate(rules):
            m = r.try_match(node, ctx)
            if not isinstance(m, Match) or not all(n in members for n in m.nodes):
                continue
            if m.flop_gain < 0 or (m.flop_gain == 0 and m.read_gain <= 0):
                continue
            key = (m.flop_gain, -k, -pos)
            if best is None or key > best[0]:
                best = (key, m)
    return None if best is None else best[1]


class GreedyAlgebraicPass(ir.passes.InPlacePass):
    """Paper §4.2: in each sub-graph apply the best match, repeat until none matches."""

    def __init__(self, ctx: RewriteContext, rules: list[Rule]) -> None:
        self.ctx, self.rules = ctx, rules

    def call(self, model: ir.Model) -> ir.passes.PassResult:
        graph, modified = model.graph, False
        for _ in range(MAX_GREEDY_STEPS):
            chosen = [m for g in subgraphs(graph) if (m := best_match(self.ctx, self.rules, g))]
            if not chosen:
                break
            for m in chosen:  # sub-graphs are disjoint: their matches do not interact
                log.debug("%s at %s (-%d FLOPs)", m.rule_name, m.root.name, m.flop_gain)
                self.ctx.apply(m)
            modified = True
        return ir.passes.PassResult(model, modified)


class FoldConstantsPass(ir.passes.InPlacePass):
    """onnxscript's constant folder, then Constant nodes lifted to initializers."""

    def __init__(self, ctx: RewriteContext) -> None:
        self.ctx = ctx

    def call(self, model: ir.Model) -> ir.passes.PassResult:
        before = model.graph.num_nodes()
        result = onnxscript.optimizer.fold_constants(model)
        lifted = common.LiftConstantsToInitializersPass(lift_all_constants=True, size_limit=0)(
            model
        )
        self.ctx.forget_names()
        modified = model.graph.num_nodes() != before or lifted.modified or result.modified
        return ir.passes.PassResult(model, modified)


def check_static(graph: ir.Graph) -> None:
    """Every value has a static shape and a dtype (raises ShapeError naming the tensor)."""
    for v in graph.inputs:
        value_shape(v)
    for node in graph:
        for v in node.outputs:
            value_shape(v)
            if v.dtype is None:
                raise ShapeError(f"tensor {v.name!r} has no dtype after rewriting")


def explain(model: ir.Model, *, fast_math: bool = False) -> list[tuple[str, str, str]]:
    """(node, rule, outcome) for every rule whose root op matches a node: the reason it does
    not apply, or ``"applies: -N FLOPs"``. Does not modify the model."""
    ctx = RewriteContext(model, fast_math=fast_math)
    out: list[tuple[str, str, str]] = []
    for node in model.graph:
        for r in ALL_RULES:
            if node.op_type not in r.root_ops:
                continue
            m = r.try_match(node, ctx)
            outcome = f"applies: -{m.flop_gain} FLOPs" if isinstance(m, Match) else m
            out.append((node.name or "", r.name, outcome))
    return out
