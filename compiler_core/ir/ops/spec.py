"""The shape of one operator row: :class:`OpSpec`, and the enums its fields use.

A row states everything the compiler knows about one ONNX operator, for every stage:

- the ECG: ``mapping`` and ``rule`` (DNNFusion Table 2, shared/dnnfusion.md §1) and the
  algebraic ``props`` graph rewriting cuts sub-graphs with (paper §4.2);
- the rewriter: ``flops`` (its FLOP count, paper Table 4), ``numpy`` (folding a replacement
  whose inputs are all constant), ``symmetric`` (operands may be matched in either order),
  ``nonneg`` (when the output is provably >= 0, for conditional rules) and
  ``nondeterministic`` (two nodes never compute the same value);
- import: ``random`` / ``keep`` (never folded);
- the planner: ``estimate`` (FLOPs of a node for the roofline cost model, when the generic rule
  by mapping type is wrong: GEMM, convolution);
- code generation: ``const_inputs`` (inputs read at compile time, never by the kernel),
  ``emitter`` (the element-wise/index emitter) or ``anchor`` (the Many-to-Many loop nest), the C
  templates of table-driven emitters (``c``, ``c_float``), ``cost`` (operations per element
  inside a fused expression), ``index`` (pure data movement) and ``repeats`` (reads an input
  element several times).

Code generation sits above this layer, so a row names its emitter and anchor by a string
``"module:name"`` relative to ``compiler_core.codegen``, resolved there.
"""

from __future__ import annotations

import enum
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from compiler_core.ir.mapping import MappingType

# The default ONNX domain, as a node or an opset import spells it. Rows of other domains do
# not exist: any operator outside it is Opaque and has no code generator.
ONNX_DOMAINS = ("", "ai.onnx")


class Rule(enum.Enum):
    """How a node's mapping type is decided."""

    FIXED = "fixed"  # the operator's type does not depend on shapes
    ELEMENTWISE = "elementwise"  # O2O, or O2M when a data input is broadcast [ours]


class Prop(enum.Flag):
    """Algebraic properties used by graph rewriting (paper §4.2)."""

    NONE = 0
    ASSOCIATIVE = enum.auto()
    COMMUTATIVE = enum.auto()
    DISTRIBUTIVE = enum.auto()


@dataclass(frozen=True)
class Flops:
    """The rewriter's FLOP count of a node: ``k`` operations per element of its first output
    (``per="output"``) or of its first input (``per="input"``); ``k=0`` is free."""

    per: str
    k: int = 1

    def count(self, in_shapes: list[tuple[int, ...]], out_shape: tuple[int, ...]) -> int:
        shape = out_shape if self.per == "output" else in_shapes[0]
        n = 1
        for d in shape:
            n *= d
        return self.k * n


FREE = Flops("output", 0)
PER_OUTPUT = Flops("output", 1)


@dataclass(frozen=True)
class Reduction:
    """The C of one reduction, for the reduction anchor (``codegen/anchors/reduce.py``).

    ``init``: the accumulator's first value: a number, or ``"lowest"`` / ``"highest"`` (the
    type's limits; -INFINITY / INFINITY for float). ``step``: the statement folding element
    ``{v}`` into ``{acc}``. ``clause``: the OpenMP reduction operator of the inner loop (``+``,
    ``*``, ``max``, ``min``). ``finish``: the result from ``{acc}`` and ``{n}`` (the count of
    reduced elements, a float literal). ``float_only``: integer inputs are refused.
    """

    init: float | str
    step: str
    clause: str
    finish: str = "{acc}"
    float_only: bool = True


@dataclass(frozen=True)
class AnchorRef:
    """An anchor class in ``compiler_core.codegen.anchors`` (``"module:Class"``) and the
    arguments it is built with."""

    target: str
    args: tuple[Any, ...] = ()
    kwargs: tuple[tuple[str, Any], ...] = ()


@dataclass(frozen=True)
class OpSpec:
    """Everything the compiler knows about one ONNX operator (see the module docstring).

    ``const_inputs``: positions of inputs consumed at compile time (shape, axes, pads,
    scales…): the kernel never reads them. ``cost``: operations per output element when the
    operator is evaluated inside a fused expression (1 simple, 4 expensive: a division or a
    transcendental function; 0 for index operators). ``flops=None``: the rewriter falls back
    to the ECG's estimate. ``c``: C template over operand expressions ``{0}``, ``{1}`` for any
    dtype, ``c_float``: for float operands (both read by the table-driven emitters).
    ``symmetric``: a binary operator with ``a∘b = b∘a``. ``nonneg``: the output is >= 0
    ``"always"``, ``"if_all"`` inputs are, or ``"if_first"`` (the data input) is; ``None``: not
    proven by the row (see ``passes/facts.py`` for the operators with their own rule).
    ``random``: a random generator (never folded); ``training_random``: random in training
    mode only; ``keep``: kept as written at import (quantization information).
    """

    name: str
    mapping: MappingType
    rule: Rule = Rule.FIXED
    props: Prop = Prop.NONE
    const_inputs: tuple[int, ...] = ()
    emitter: str | None = None
    anchor: AnchorRef | None = None
    c: str | None = None
    c_float: str | None = None
    cost: int = 1
    index: bool = False
    repeats: bool = False
    flops: Flops | None = None
    estimate: Callable[[Any], int] | None = None
    numpy: Callable[..., Any] | None = None
    symmetric: bool = False
    nonneg: str | None = None
    random: bool = False
    training_random: bool = False
    keep: bool = False
    domain: str = ""

    @property
    def nondeterministic(self) -> bool:
        """Random generators, and operators random in training mode (Dropout)."""
        return self.random or self.training_random

    @property
    def elementwise(self) -> bool:
        """Output element i depends only on input elements at index i (after broadcasting)."""
        return self.rule is Rule.ELEMENTWISE

    @property
    def generated(self) -> bool:
        """True when code generation handles the operator (an emitter or an anchor)."""
        return self.emitter is not None or self.anchor is not None


def default_flops(mapping: MappingType, rule: Rule) -> Flops | None:
    """The rewriter's count by mapping type: data movement is free, element-wise and
    One-to-One operators cost one operation per output element, others have no formula."""
    if mapping in (MappingType.REORGANIZE, MappingType.SHUFFLE):
        return FREE
    if rule is Rule.ELEMENTWISE or mapping is MappingType.ONE_TO_ONE:
        return PER_OUTPUT
    return None


_UNSET: Any = object()


def op(name: str, mapping: MappingType, *, rule: Rule = Rule.FIXED, flops: Any = _UNSET,
       **fields: Any) -> OpSpec:
    """A row; ``flops`` defaults to :func:`default_flops`."""
    if flops is _UNSET:
        flops = default_flops(mapping, rule)
    return OpSpec(name, mapping, rule=rule, flops=flops, **fields)
