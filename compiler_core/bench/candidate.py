"""A "profile" candidate as a small model of its own: the sub-ECG the micro-benchmark compiles.

The sub-ECG holds copies of just the candidate's nodes (``first`` then ``second``, topological
order) with their shapes, dtypes and attributes. Tensors read from outside become graph inputs,
constants stay constants (same values), and every tensor the candidate's nodes write that the
original graph reads elsewhere (or outputs) becomes a graph output, so the fused and the
separate partitions compute the same outputs. Model names are dropped: values are ``t0``,
``t1``... and nodes ``n0``, ``n1``...
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass

import onnx_ir as ir

from compiler_core.errors import UnsupportedOperatorError
from compiler_core.ir.ecg import ECG, build_ecg, is_constant
from compiler_core.planner.blocks import BlockGraph


@dataclass
class Candidate:
    """``ecg``: the sub-ECG; ``first``/``second``: its node indices of each side."""

    ecg: ECG
    first: list[int]
    second: list[int]

    def partition(self, fused: bool) -> BlockGraph:
        """One group for everything (``fused``) or one group per side."""
        bg = BlockGraph(self.ecg)
        sides = [self.first + self.second] if fused else [self.first, self.second]
        for members in sides:
            head = members[0]
            for i in sorted(members)[1:]:  # topological order keeps every step acyclic
                g = bg.group_of[head]
                bg.merge(g, bg.group_of[i], bg.mtype[g])
            bg.seeded[bg.group_of[head]] = True
        return bg


def extract_candidate(ecg: ECG, first: Collection[int], second: Collection[int]) -> Candidate:
    """Copy nodes ``first ∪ second`` of ``ecg`` into a model of their own (see module doc).

    Raises :class:`UnsupportedOperatorError` when a side is empty or a node has a subgraph.
    """
    a, b = sorted(first), sorted(second)
    if not a or not b or set(a) & set(b):
        raise UnsupportedOperatorError("a fusion candidate needs two disjoint, non-empty sides")
    members = sorted({*a, *b})
    inside = set(members)
    opsets = dict(ecg.model.opset_imports)
    copies: dict[ir.Value, ir.Value] = {}
    inputs: list[ir.Value] = []
    initializers: list[ir.Value] = []
    nodes: list[ir.Node] = []
    counter = iter(range(1 << 30))

    def fresh(v: ir.Value, const: bool) -> ir.Value:
        c = ir.Value(
            name=f"t{next(counter)}",
            shape=ir.Shape(list(v.shape)) if v.shape is not None else None,
            type=v.type,
            const_value=v.const_value if const else None,
        )
        copies[v] = c
        return c

    for i in members:
        node = ecg.nodes[i]
        if any(a.type in (ir.AttributeType.GRAPH, ir.AttributeType.GRAPHS)
               for a in node.attributes.values()):
            raise UnsupportedOperatorError(f"{node.op_type} with a subgraph is not benchmarked")
        ins: list[ir.Value | None] = []
        for v in node.inputs:
            if v is None:
                ins.append(None)
            elif v in copies:
                ins.append(copies[v])
            elif is_constant(v):
                c = fresh(v, const=True)
                initializers.append(c)
                ins.append(c)
            else:
                c = fresh(v, const=False)
                inputs.append(c)
                ins.append(c)
        outs = []
        for v in node.outputs:
            c = ir.Value(name=f"t{next(counter)}", shape=v.shape and ir.Shape(list(v.shape)),
                         type=v.type)
            copies[v] = c
            outs.append(c)
        nodes.append(ir.Node(node.domain, node.op_type, ins, list(node.attributes.values()),
                             outputs=outs, version=node.version, name=f"n{len(nodes)}"))
    outputs = []
    for i in members:
        for v in ecg.nodes[i].outputs:
            users = ecg.value_consumers.get(v, [])
            if v in ecg.graph_outputs or any(u not in inside for u in users):
                outputs.append(copies[v])
    graph = ir.Graph(inputs, outputs, nodes=nodes, initializers=initializers,
                     opset_imports=opsets, name="candidate")
    sub = build_ecg(ir.Model(graph, ir_version=ecg.model.ir_version))
    index = {i: k for k, i in enumerate(members)}
    order = {id(n): k for k, n in enumerate(sub.nodes)}
    # build_ecg sorts topologically; map original member order to the sub-ECG's order.
    pos = [order[id(n)] for n in nodes]
    return Candidate(sub, sorted(pos[index[i]] for i in a), sorted(pos[index[i]] for i in b))
