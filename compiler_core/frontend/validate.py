"""Structural validation of a ``ModelProto`` before conversion.

In order: local functions are inlined (``onnx.inliner``), every node must be a known
default-domain operator (:class:`UnsupportedOperatorError` names the node and its domain or
operator; ``com.microsoft`` and ``ai.onnx.ml`` are unknown to this compiler), the graph must be
acyclic (:class:`ModelValidationError` names the nodes of one cycle) and is put in topological
order, then ``onnx.checker`` runs (its failure becomes :class:`ModelValidationError`).
"""

from __future__ import annotations

import heapq
from collections.abc import Iterator

import onnx
import onnx.inliner

from compiler_core.errors import (
    ModelValidationError,
    ResourceLimitError,
    UnsupportedOperatorError,
)
from compiler_core.ir.ops import ONNX_DOMAINS

MAX_PROTO_BYTES = 2**31 - 1  # protobuf's limit; onnx.checker and the converter need one message


def node_label(node: onnx.NodeProto, index: int | None = None) -> str:
    """``node 'name' (OpType)``, or ``node #index (OpType)`` for an unnamed node."""
    if node.name:
        return f"node {node.name!r} ({node.op_type})"
    return (
        f"node #{index} ({node.op_type})" if index is not None else f"unnamed {node.op_type} node"
    )


def inline_functions(proto: onnx.ModelProto, source: str) -> onnx.ModelProto:
    """Inline model-local functions so that only primitive operators remain."""
    if not proto.functions:
        return proto
    try:
        return onnx.inliner.inline_local_functions(proto)
    except Exception as e:  # noqa: BLE001 - the inliner raises plain C++ errors
        raise ModelValidationError(f"{source}: cannot inline local functions: {e}") from e


def check_operators(proto: onnx.ModelProto, opset: int, source: str) -> None:
    """Every node (sub-graphs included) is a default-domain operator that exists at ``opset``."""
    for index, node, where in _all_nodes(proto.graph):
        label = node_label(node, index) + where
        if node.domain not in ONNX_DOMAINS:
            raise UnsupportedOperatorError(
                f"{source}: {label} is in domain {node.domain!r}, which this compiler does not "
                "support (only the default ai.onnx domain is)"
            )
        if not onnx.defs.has(node.op_type, opset, ""):
            raise UnsupportedOperatorError(
                f"{source}: {label} uses operator {node.op_type!r}, which does not exist in "
                f"ai.onnx opset {opset}"
            )
        _check_axes(node, label, source)


# Bound of ``axis``/``axes`` attribute values, far beyond any tensor rank. onnx's C++ shape
# inference and version converter index dimension lists with some of them unchecked
# (LayerNormalization axis=2**63-1 is a segfault), so out-of-range values stop here.
MAX_AXIS = 1024


def _check_axes(node: onnx.NodeProto, label: str, source: str) -> None:
    """Out-of-range ``axis``/``axes`` values, and string attributes that are not UTF-8 (the
    ONNX spec requires it; onnx_ir would log a warning per attribute and go on)."""
    for attr in node.attribute:
        if attr.type in (onnx.AttributeProto.STRING, onnx.AttributeProto.STRINGS):
            for text in [attr.s] if attr.type == onnx.AttributeProto.STRING else attr.strings:
                try:
                    text.decode("utf-8")
                except UnicodeDecodeError:
                    raise ModelValidationError(
                        f"{source}: {label} has a string attribute {attr.name!r} that is not "
                        "UTF-8"
                    ) from None
            continue
        if attr.name == "axis" and attr.type == onnx.AttributeProto.INT:
            values = [attr.i]
        elif attr.name == "axes" and attr.type == onnx.AttributeProto.INTS:
            values = list(attr.ints)
        else:
            continue
        bad = [v for v in values if not -MAX_AXIS <= v < MAX_AXIS]
        if bad:
            raise ModelValidationError(
                f"{source}: {label} has {attr.name}={bad[0]}, out of range for any tensor rank"
            )


def _all_nodes(
    graph: onnx.GraphProto, where: str = ""
) -> Iterator[tuple[int, onnx.NodeProto, str]]:
    for index, node in enumerate(graph.node):
        yield index, node, where
        for attr in node.attribute:
            subs = ([attr.g] if attr.HasField("g") else []) + list(attr.graphs)
            for sub in subs:
                inner = f" in sub-graph {attr.name!r} of {node_label(node, index)}{where}"
                yield from _all_nodes(sub, inner)


def _used_names(node: onnx.NodeProto) -> set[str]:
    """Inputs of a node, plus the outer names its sub-graphs read (implicit inputs)."""
    names = {n for n in node.input if n}
    for attr in node.attribute:
        for sub in ([attr.g] if attr.HasField("g") else []) + list(attr.graphs):
            for _, inner, _ in _all_nodes(sub):
                names.update(n for n in inner.input if n)
            names.update(o.name for o in sub.output)
    return names


def sort_topologically(proto: onnx.GraphProto | onnx.ModelProto, source: str) -> None:
    """Reorder the top-level nodes topologically, in place (stable: ties keep file order).

    Raises :class:`ModelValidationError` naming the nodes of a cycle.
    """
    graph = proto.graph if isinstance(proto, onnx.ModelProto) else proto
    nodes = list(graph.node)
    producer = {out: i for i, n in enumerate(nodes) for out in n.output if out}
    deps = [{producer[x] for x in _used_names(n) if x in producer} for n in nodes]
    users: list[list[int]] = [[] for _ in nodes]
    for i, ds in enumerate(deps):
        for d in ds:
            users[d].append(i)
    missing = [len(ds) for ds in deps]
    ready = [i for i, m in enumerate(missing) if m == 0]
    heapq.heapify(ready)
    order: list[int] = []
    while ready:
        i = heapq.heappop(ready)
        order.append(i)
        for u in users[i]:
            missing[u] -= 1
            if missing[u] == 0:
                heapq.heappush(ready, u)
    if len(order) < len(nodes):
        raise ModelValidationError(f"{source}: the graph has a cycle: {_cycle(nodes, deps, order)}")
    if order != list(range(len(nodes))):
        graph.ClearField("node")
        graph.node.extend(nodes[i] for i in order)


def _cycle(nodes: list[onnx.NodeProto], deps: list[set[int]], done: list[int]) -> str:
    """Describe one cycle among the nodes Kahn's algorithm could not order."""
    left = set(range(len(nodes))) - set(done)
    path: list[int] = []
    seen: dict[int, int] = {}
    i = min(left)
    while i not in seen:
        seen[i] = len(path)
        path.append(i)
        i = min(d for d in deps[i] if d in left)  # a stuck node always has a stuck producer
    loop = path[seen[i] :] + [i]
    loop.reverse()  # producer -> consumer order
    return " -> ".join(node_label(nodes[j], j) for j in loop)


def check_graph_io(proto: onnx.ModelProto, source: str) -> None:
    """Main-graph inputs and outputs need a tensor type with an element type and a shape
    (``onnx.checker`` requires it too, but without naming the tensor); declared element types
    must be ones ONNX defines and declared dimensions >= -1 (-1: dynamic, as Paddle writes it;
    the checker does not look, and onnx's C++ shape inference can crash on them)."""
    for kind, infos in (("input", proto.graph.input), ("output", proto.graph.output)):
        for info in infos:
            if not info.type.HasField("tensor_type"):
                what = info.type.WhichOneof("value") or "no type"
                raise UnsupportedOperatorError(
                    f"{source}: graph {kind} {info.name!r} is not a tensor ({what})"
                )
            tensor_type = info.type.tensor_type
            if not tensor_type.elem_type:
                raise ModelValidationError(
                    f"{source}: graph {kind} {info.name!r} has no element type"
                )
            if not tensor_type.HasField("shape"):
                raise ModelValidationError(
                    f"{source}: graph {kind} {info.name!r} declares no shape (not even a rank); "
                    "ONNX requires one on the main graph's inputs and outputs"
                )
    # Element types ONNX does not define: onnx.checker does not look at the weights it is
    # handed (large ones are hidden from it), and onnx_ir fails on them with a ValueError.
    defined = set(onnx.TensorProto.DataType.values())
    typed = [(f"tensor {v.name!r}", v.type.tensor_type.elem_type)
             for v in (*proto.graph.input, *proto.graph.output, *proto.graph.value_info)
             if v.type.HasField("tensor_type")]
    typed += [(f"initializer {t.name!r}", t.data_type) for t in proto.graph.initializer]
    for what, elem_type in typed:
        if elem_type and elem_type not in defined:
            raise ModelValidationError(
                f"{source}: {what} has element type {elem_type}, which ONNX does not define"
            )
    # Dimensions below -1: onnx.checker lets them through, and onnx's C++ shape inference (run
    # by the version converter) segfaults on some (GatherND indices of shape [2, -2]). -1 is
    # what some exporters (Paddle) write for a dynamic dimension: it stays allowed.
    dims = [(f"tensor {v.name!r}", [d.dim_value for d in v.type.tensor_type.shape.dim
                                    if d.HasField("dim_value")])
            for v in (*proto.graph.input, *proto.graph.output, *proto.graph.value_info)
            if v.type.HasField("tensor_type")]
    dims += [(f"initializer {t.name!r}", list(t.dims)) for t in proto.graph.initializer]
    for what, values in dims:
        if any(d < -1 for d in values):
            raise ModelValidationError(f"{source}: {what} declares a negative dimension "
                                       f"({min(values)})")


def minus_one_dims_to_dynamic(proto: onnx.ModelProto) -> list[tuple[str, int]]:
    """Declared dimensions of -1 (what Paddle writes for a dynamic one; this compiler treats
    every negative dimension as dynamic) become unknown dimensions, in place, before onnx's
    C++ checker, shape inference and version converter see them: they read them as sizes
    (GatherND indices [2, -1] is a segfault in the converter). Returns where they were, for
    :func:`restore_minus_one_dims` (messages name the -1 the file declares)."""
    cleared = []
    g = proto.graph
    for value in (*g.input, *g.output, *g.value_info):
        if value.type.HasField("tensor_type"):
            for i, dim in enumerate(value.type.tensor_type.shape.dim):
                if dim.HasField("dim_value") and dim.dim_value == -1:
                    dim.ClearField("dim_value")
                    cleared.append((value.name, i))
    return cleared


def restore_minus_one_dims(proto: onnx.ModelProto, cleared: list[tuple[str, int]]) -> None:
    """Put back the -1 dimensions :func:`minus_one_dims_to_dynamic` cleared (where the dim is
    still unknown)."""
    where = set(cleared)
    g = proto.graph
    for value in (*g.input, *g.output, *g.value_info):
        dims = value.type.tensor_type.shape.dim if value.type.HasField("tensor_type") else []
        for i, dim in enumerate(dims):
            if (value.name, i) in where and not dim.HasField("dim_value") and not dim.dim_param:
                dim.dim_value = -1


def run_checker(proto: onnx.ModelProto, source: str, weight_bytes: int = 0) -> None:
    """``onnx.checker.check_model``; its error becomes one line of :class:`ModelValidationError`.

    ``weight_bytes``: size of initializers taken out of ``proto`` (see ``skeleton``), counted
    toward the 2 GiB limit.
    """
    size = proto.ByteSize() + weight_bytes
    if size >= MAX_PROTO_BYTES:
        raise ResourceLimitError(
            f"{source}: the model is {size} bytes in memory; models of 2 GiB or more are not "
            "supported"
        )
    try:
        onnx.checker.check_model(proto)
    except (onnx.checker.ValidationError, ValueError) as e:
        message = " ".join(str(e).split())
        if len(message) > 400:
            message = message[:400] + " ..."
        raise ModelValidationError(f"{source}: fails onnx.checker: {message}") from e
