"""The Extended Computational Graph (ECG, DNNFusion §3.2).

The ECG is the imported ``onnx_ir`` graph plus, per compute node, its mapping type, the size of
its intermediate result (IRS, bytes of all its outputs) and its algebraic properties. Whether an
IRS is removable depends on the fusion plan and is reported by the planner.

Nodes are referred to by their position in topological order (``ECG.nodes[i]``) so the planner
can work on plain integers.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import onnx_ir as ir

from compiler_core.errors import ShapeError
from compiler_core.ir.mapping import MappingType
from compiler_core.ir.ops import ONNX_DOMAINS, Prop, Rule, lookup, op_properties, op_rule


@dataclass(frozen=True)
class NodeInfo:
    """ECG annotation of one node.

    ``irs_bytes``: bytes of all the node's outputs (the intermediate result it writes when it is
    not fused). ``flops``: an estimate of floating-point operations (see :func:`estimate_flops`).
    """

    mapping_type: MappingType
    irs_bytes: int
    flops: int
    properties: Prop


def value_shape(value: ir.Value) -> tuple[int, ...]:
    """The static shape of a value; raises :class:`ShapeError` naming the tensor if dynamic."""
    shape = value.shape
    if shape is None:
        raise ShapeError(f"tensor {value.name!r} has no inferred shape")
    dims = []
    for d in shape:
        if not isinstance(d, int):
            raise ShapeError(f"tensor {value.name!r} has a dynamic dimension {d!s}")
        dims.append(d)
    return tuple(dims)


def value_bytes(value: ir.Value) -> int:
    """Bytes of a statically shaped tensor value."""
    dtype = value.dtype
    itemsize = math.ceil(dtype.itemsize) if dtype is not None else 4
    return math.prod(value_shape(value)) * itemsize


def is_constant(value: ir.Value | None) -> bool:
    """True for initializers and values with a known constant (folded) tensor."""
    return value is not None and (value.is_initializer() or value.const_value is not None)


def mapping_type_of(node: ir.Node) -> MappingType:
    """The node's mapping type (Table 2 plus shared/dnnfusion.md §1).

    Element-wise operators are One-to-One when every data input has the output's shape and
    One-to-Many when one is broadcast [ours]. Constant operands (initializers, folded values)
    and one-element operands are parameters, not data, and do not count as broadcast: the paper
    lists BatchNormalization, whose per-channel scale and bias are broadcast constants, as
    One-to-One, so ``x * 0.5`` or a bias add with a constant vector is One-to-One, while
    ``a + b`` with ``b`` a computed tensor of another shape is One-to-Many.
    """
    rule, mtype = op_rule(node.domain, node.op_type)
    if rule is Rule.FIXED:
        return mtype
    out_shape = value_shape(node.outputs[0])
    for value in node.inputs:
        if value is None or is_constant(value):
            continue
        shape = value_shape(value)
        if shape != out_shape and math.prod(shape) != 1:
            return MappingType.ONE_TO_MANY
    return MappingType.ONE_TO_ONE


def estimate_flops(node: ir.Node) -> int:
    """Floating-point operations of one node (multiply-add counts 2), a model for cost only:
    the row's ``estimate`` (GEMM, convolution), else by mapping type."""
    row = lookup(node.domain, node.op_type)
    if row is not None and row.estimate is not None:
        got = row.estimate(node, value_shape)
        if got is not None:
            return got
    out_elems = sum(math.prod(value_shape(v)) for v in node.outputs if v.shape is not None)
    ins = [v for v in node.inputs if v is not None]
    rule, mtype = op_rule(node.domain, node.op_type)
    if mtype is MappingType.MANY_TO_MANY:
        in_elems = sum(math.prod(value_shape(v)) for v in ins if not is_constant(v))
        return max(in_elems, out_elems) * 2
    if mtype in (MappingType.REORGANIZE, MappingType.SHUFFLE):
        return 0
    return out_elems


@dataclass
class ECG:
    """Extended Computational Graph over an imported, statically shaped ``onnx_ir`` model.

    ``nodes`` are the compute nodes in topological order; ``info[i]`` annotates ``nodes[i]``;
    ``producers[i]`` / ``consumers[i]`` are the node indices on its input / output edges
    (graph inputs and constants are not nodes).
    """

    model: ir.Model
    nodes: list[ir.Node]
    info: list[NodeInfo]
    producers: list[list[int]]
    consumers: list[list[int]]
    value_bytes: dict[ir.Value, int]  # every tensor a node reads or writes
    value_consumers: dict[ir.Value, list[int]]  # node indices reading each tensor
    graph_outputs: frozenset[ir.Value]

    @property
    def graph(self) -> ir.Graph:
        return self.model.graph

    def index(self, node: ir.Node) -> int:
        return self._index[node]

    def __post_init__(self) -> None:
        self._index = {n: i for i, n in enumerate(self.nodes)}

    def count_by_type(self) -> dict[MappingType, int]:
        counts: dict[MappingType, int] = {}
        for inf in self.info:
            counts[inf.mapping_type] = counts.get(inf.mapping_type, 0) + 1
        return counts

    def floor(self) -> int:
        """Mapping-type floor: Many-to-Many plus Opaque operators. No plan that respects Table
        3's "never" cells can have fewer fused blocks (each such operator anchors its own)."""
        c = self.count_by_type()
        return c.get(MappingType.MANY_TO_MANY, 0) + c.get(MappingType.OPAQUE, 0)


def build_ecg(model: ir.Model) -> ECG:
    """Annotate every node of ``model.graph`` (sorted topologically in place).

    Raises :class:`ShapeError` when a tensor has no static shape.
    """
    graph = model.graph
    graph.sort()
    nodes = [n for n in graph if not (n.op_type == "Constant" and n.domain in ONNX_DOMAINS)]
    index = {n: i for i, n in enumerate(nodes)}
    producers: list[list[int]] = []
    consumers: list[list[int]] = []
    info: list[NodeInfo] = []
    vbytes: dict[ir.Value, int] = {}
    vcons: dict[ir.Value, list[int]] = {}
    for i, node in enumerate(nodes):
        for v in node.inputs:
            if v is not None:
                if v not in vbytes:
                    vbytes[v] = value_bytes(v)
                vcons.setdefault(v, [])
                if not vcons[v] or vcons[v][-1] != i:
                    vcons[v].append(i)
        for v in node.outputs:
            # An optional output the model leaves out ("" with no shape) writes nothing.
            absent = v.shape is None and not v.uses() and not v.is_graph_output()
            vbytes[v] = 0 if absent else value_bytes(v)
            vcons.setdefault(v, [])
    for node in nodes:
        preds = []
        for v in node.inputs:
            p = v.producer() if v is not None else None
            if p is not None and p in index and index[p] not in preds:
                preds.append(index[p])
        producers.append(preds)
        succs: list[int] = []
        for v in node.outputs:
            for user in v.consumers():
                j = index.get(user)
                if j is not None and j not in succs:
                    succs.append(j)
        consumers.append(sorted(succs))
        info.append(
            NodeInfo(
                mapping_type=mapping_type_of(node),
                irs_bytes=sum(vbytes[v] for v in node.outputs),
                flops=estimate_flops(node),
                properties=op_properties(node.domain, node.op_type),
            )
        )
    return ECG(
        model=model,
        nodes=nodes,
        info=info,
        producers=producers,
        consumers=consumers,
        value_bytes=vbytes,
        value_consumers=vcons,
        graph_outputs=frozenset(graph.outputs),
    )
