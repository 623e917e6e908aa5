"""Static shapes: user inputs, pinning dynamic dimensions, inference and the final check.

- Weights listed among the graph inputs (IR version < 4 models list every initializer there)
  are constants, not user inputs: :func:`drop_initializer_inputs` removes them from the inputs.
- :func:`pin_input_shapes` applies ``input_shapes={"x": (1, 3, 640, 640)}``; a pin that
  contradicts the model, or a dynamic dimension left unpinned, is a :class:`ShapeError`.
- :func:`check_static` makes sure every graph input, node output and graph output has a static
  shape and a dtype.
"""

from __future__ import annotations

import itertools
import math
import operator
from collections.abc import Mapping, Sequence

import onnx_ir as ir

from compiler_core.errors import ShapeError, UnsupportedOperatorError
from compiler_core.frontend.memory import tensor_bytes


def drop_initializer_inputs(model: ir.Model) -> None:
    """Remove from ``graph.inputs`` the values that are also initializers.

    IR < 4 models must list every weight there; from IR 4 on, such an input is a weight with an
    overridable default. Either way the compiler treats it as a constant, not a user input.
    """
    graph = model.graph
    user = [v for v in graph.inputs if not v.is_initializer()]
    if len(user) != len(graph.inputs):
        graph.inputs.clear()
        graph.inputs.extend(user)


def _dim_label(dim: object) -> str:
    if isinstance(dim, ir.SymbolicDim):
        return repr(dim.value) if dim.value is not None else "unnamed"
    return str(dim)


def _is_static(dim: object) -> bool:
    return isinstance(dim, int) and dim >= 0


def shape_text(shape: ir.Shape | None) -> str:
    if shape is None:
        return "unknown"
    return "[" + ",".join(str(d) if _is_static(d) else _dim_label(d) for d in shape) + "]"


def pin_input_shapes(
    model: ir.Model, input_shapes: Mapping[str, Sequence[int]] | None, source: str
) -> None:
    """Give every user input its static shape; the pins win over dynamic declared dims.

    Raises :class:`ShapeError` for an unknown input name, a pinned initializer, a pin that is
    not a sequence of positive integers, a pin whose size exceeds
    :data:`~compiler_core.frontend.memory.MAX_TENSOR_BYTES`, a rank or static dimension that
    differs from the model's declaration, and for an input left with a dynamic dimension or
    without a dtype.
    """
    graph = model.graph
    inputs = {v.name: v for v in graph.inputs}
    for name, dims in (input_shapes or {}).items():
        if name not in inputs:
            if name in graph.initializers:
                raise ShapeError(
                    f"{source}: cannot pin {name!r}: it is an initializer (a weight), "
                    "not a user input"
                )
            raise ShapeError(
                f"{source}: cannot pin {name!r}: the model has no such input "
                f"(inputs: {', '.join(repr(n) for n in inputs) or 'none'})"
            )
        pinned = _pinned_dims(name, dims, source)
        value = inputs[name]
        if value.dtype is not None:  # a size no machine holds is refused before inference
            tensor_bytes(name, pinned, value.dtype, source)
        declared = value.shape
        if declared is not None:
            if len(declared) != len(pinned):
                raise ShapeError(
                    f"{source}: input {name!r} is pinned to rank {len(pinned)} {list(pinned)} "
                    f"but the model declares rank {len(declared)} {shape_text(declared)}"
                )
            for i, (d, p) in enumerate(zip(declared, pinned, strict=True)):
                if _is_static(d) and d != p:
                    raise ShapeError(
                        f"{source}: input {name!r} dim {i} is pinned to {p} but the model "
                        f"declares {d} (declared {shape_text(declared)}, pinned {list(pinned)})"
                    )
        value.shape = ir.Shape(pinned)
    for value in graph.inputs:
        if value.shape is None:
            raise ShapeError(
                f"{source}: input {value.name!r} has no declared shape; pin it with "
                f"input_shapes={{{value.name!r}: (...)}}"
            )
        for i, d in enumerate(value.shape):
            if not _is_static(d):
                raise ShapeError(
                    f"{source}: input {value.name!r} dim {i} ({_dim_label(d)}) is dynamic in "
                    f"{shape_text(value.shape)}; pin it with input_shapes={{{value.name!r}: (...)}}"
                )
        if value.dtype is None:
            raise ShapeError(f"{source}: input {value.name!r} has no element type")


def _pinned_dims(name: str, dims: Sequence[int], source: str) -> tuple[int, ...]:
    try:
        if isinstance(dims, (str, bytes)) or any(isinstance(d, bool) for d in dims):
            raise TypeError(dims)
        pinned = tuple(operator.index(d) for d in dims)
    except TypeError:
        pinned = ()
    if not all(d > 0 for d in pinned) or (not pinned and dims != ()):
        raise ShapeError(
            f"{source}: pinned shape of input {name!r} must be a sequence of positive "
            f"integers, got {dims!r}"
        )
    return pinned


def check_static(model: ir.Model, source: str) -> None:
    """Every graph input, node output and graph output has a static shape and a dtype.

    Raises :class:`ShapeError` naming the first tensor that does not, and its producer.
    """
    graph = model.graph
    values = itertools.chain(
        graph.inputs, (v for node in graph for v in node.outputs if v.name), graph.outputs
    )
    for value in values:
        shape, dtype = value.shape, value.dtype
        if shape is not None and dtype is not None and all(_is_static(d) for d in shape):
            if not _fixed_size(dtype):
                raise UnsupportedOperatorError(
                    f"{source}: tensor {value.name!r} ({_origin(value)}) has element type "
                    f"{dtype.name}, which the compiler does not support"
                )
            continue
        origin = _origin(value)
        problem = "no element type" if dtype is None else f"no static shape ({shape_text(shape)})"
        raise ShapeError(f"{source}: tensor {value.name!r} ({origin}) has {problem}")


def _origin(value: ir.Value) -> str:
    producer = value.producer()
    if producer is not None:
        return f"output of node {producer.name!r} ({producer.op_type})"
    return "a graph input" if value.is_graph_input() else "an initializer"


def _fixed_size(dtype: ir.DataType) -> bool:
    """False for element types without a bit width (STRING): no buffer layout for them."""
    try:
        dtype.itemsize  # noqa: B018 - raises TypeError for STRING
    except TypeError:
        return False
    return True


def num_elements(value: ir.Value) -> int | None:
    """Element count of a value with a static shape, else None."""
    shape = value.shape
    if shape is None or not all(_is_static(d) for d in shape):
        return None
    return math.prod(shape)
