"""Folding constant-only and shape-computing sub-graphs into initializers.

Built on onnxscript's constant folder (``onnxscript.optimizer.constant_folding``), restricted
so that import does no rewriting of the computation the user wrote:

- A node is replaced only when the result is a constant: either every input is already a
  constant (the whole node is constant; ConstantOfShape included, and with no size limit, so
  the ``light_*`` graphs' ConstantOfShape weights become initializers), or the folder turned it
  into constants from static shapes (``Shape``, ``Size``, ``Gather`` of a shape).
- The folder's other partial evaluators (Identity/Dropout/no-op Reshape, Cast, Expand or
  Concat replaced by their input, value aliasing) are refused: removing those is the job of
  the algebraic rewriting stage, and ``ImportedModel.original_nodes`` must count them.
- Constant nodes with several outputs (a Split of a weight), which the onnxscript folder skips,
  are evaluated with ``onnx.reference``.
- Quantize/DequantizeLinear stay (the folder keeps them by default, to keep quantization
  information); random operators are never folded (the registry rows' ``keep`` and
  ``random`` flags).

After folding, Constant nodes are lifted to initializers and nodes left without users (the
remains of a folded sub-graph) are removed. A folded tensor larger than
:data:`MAX_FOLDED_BYTES` raises :class:`ResourceLimitError`; an operator that fails to
evaluate raises :class:`ModelValidationError` naming the node.
"""

from __future__ import annotations

import sys

import numpy as np
import onnx.reference
import onnx_ir as ir
import onnx_ir.passes.common as ir_common
from onnxscript.optimizer import constant_folding as cf

from compiler_core.errors import ModelValidationError, ResourceLimitError
from compiler_core.frontend.shapes import num_elements
from compiler_core.ir.ops import ONNX_DOMAINS, REGISTRY

MAX_FOLDED_BYTES = 2**31 - 1
_MAX_ROUNDS = 8
_GRAPH_ATTRS = (ir.AttributeType.GRAPH, ir.AttributeType.GRAPHS)


class _NoAliasState(cf.OptimizerState):
    """Folder state that records shape values but never "X is the same value as Y"."""

    def set_sym_value(self, value: ir.Value, sym_value: cf.SymbolicValue) -> None:
        if isinstance(sym_value, ir.Value):
            return
        super().set_sym_value(value, sym_value)


def _row_says(node: ir.Node, flag: str) -> bool:
    """The registry row's ``keep`` (kept as written, e.g. Quantize/DequantizeLinear) or
    ``random`` (a random generator) flag, by operator name in any domain (conservative);
    ``False`` for operators without a row."""
    row = REGISTRY.get(node.op_type)
    return row is not None and bool(getattr(row, flag))


def _is_const(value: ir.Value | None) -> bool:
    return value is None or value.const_value is not None


def _constant_replacement(replacement: cf.Replacement) -> bool:
    """True when a replacement only introduces constants (initializers or Constant nodes)."""
    if any(
        n.op_type != "Constant" or n.domain not in ONNX_DOMAINS for n in replacement.new_nodes
    ):
        return False
    made = {out for n in replacement.new_nodes for out in n.outputs}
    return all(
        v is not None and (v.const_value is not None or v in made) for v in replacement.new_outputs
    )


class _ConstantOnlyFolding(cf.FoldConstantsPass):
    def __init__(self, source: str) -> None:
        super().__init__(
            shape_inference=True,
            input_size_limit=sys.maxsize,
            output_size_limit=sys.maxsize,
            should_fold=self._should_fold,
        )
        self.source = source

    def _reset(self) -> None:
        super()._reset()
        self._state = _NoAliasState()

    def _should_fold(self, node: ir.Node) -> bool | None:
        if _row_says(node, "keep"):
            return None  # the folder's default rule keeps them
        for out in node.outputs:
            count = num_elements(out)
            if count is not None and out.dtype is not None:
                nbytes = count * max(1, int(out.dtype.itemsize))
                if nbytes > MAX_FOLDED_BYTES:
                    raise ResourceLimitError(
                        f"{self.source}: folding node {node.name!r} ({node.op_type}) would "
                        f"create a {nbytes}-byte constant {out.name!r} (limit {MAX_FOLDED_BYTES})"
                    )
        return True

    def process_node(self, node: ir.Node, is_function: bool) -> cf.Replacement | None:
        all_const = all(_is_const(v) for v in node.inputs)
        if _row_says(node, "random"):
            return None  # never folded (the folder's own list misses Bernoulli)
        try:
            if all_const and len(node.outputs) > 1 and self._foldable(node) and not is_function:
                return self._fold_multi_output(node)  # the onnxscript folder skips these
            replacement = super().process_node(node, is_function)
        except (ResourceLimitError, MemoryError):
            raise
        except Exception as e:  # noqa: BLE001 - reference-evaluator errors of any type
            cause = e.__cause__ or e
            raise ModelValidationError(
                f"{self.source}: cannot evaluate constant node {node.name!r} "
                f"({node.op_type}): {' '.join(str(cause).split())}"
            ) from e
        if replacement is None or all_const or _constant_replacement(replacement):
            return replacement
        return None

    def _foldable(self, node: ir.Node) -> bool:
        return (
            node.domain in ONNX_DOMAINS
            and not _row_says(node, "keep")
            and not _row_says(node, "random")
            and not any(a.type in _GRAPH_ATTRS for a in node.attributes.values())
            and node.graph is not None
        )

    def _fold_multi_output(self, node: ir.Node) -> cf.Replacement | None:
        """Evaluate a constant node with several outputs (e.g. Split of a weight)."""
        self._should_fold(node)  # size limit
        feeds = {v.name: v.const_value.numpy() for v in node.inputs if v is not None}
        version = self._opset_imports.get(node.domain, self._opset_imports.get("ai.onnx"))
        evaluator = onnx.reference.ReferenceEvaluator(
            ir.serde.serialize_node(node), opsets={"": version}
        )
        arrays = evaluator.run(None, feeds)
        new_values = []
        for out, array in zip(node.outputs, arrays, strict=True):
            array = np.asarray(array)
            value = ir.Value(
                name=out.name,
                type=ir.TensorType(ir.DataType.from_numpy(array.dtype)),
                shape=ir.Shape(array.shape),
                const_value=ir.tensor(array, name=out.name),
            )
            node.graph.register_initializer(value)
            new_values.append(value)
        return cf.Replacement(new_values, [])


def fold_constants(model: ir.Model, source: str) -> bool:
    """Fold constant-only and shape-only sub-graphs of ``model`` in place, to a fixpoint.

    Shapes of the graph inputs must be pinned first so ``Shape`` nodes become constants.
    Returns whether anything changed.
    """
    changed = False
    folder = _ConstantOnlyFolding(source)
    for _ in range(_MAX_ROUNDS):
        ir_common.LiftConstantsToInitializersPass(lift_all_constants=True, size_limit=0)(model)
        if not folder(model).modified:
            break
        changed = True
    ir_common.LiftConstantsToInitializersPass(lift_all_constants=True, size_limit=0)(model)
    ir_common.RemoveUnusedNodesPass()(model)
    return changed
