"""Element-wise rows added for operator coverage: inverse and hyperbolic trigonometry,
parametrized activations, IsInf (One-to-One, or One-to-Many when broadcast; paper Table 2).

Templates as in ``elementwise.py`` (``{0}`` is the operand); the parametrized ones have their
emitter in ``codegen/ops_activation.py``. All are expensive (``cost=4``: a transcendental
function) except the comparisons.
"""

from __future__ import annotations

from compiler_core.ir.mapping import MappingType
from compiler_core.ir.ops.spec import OpSpec, Rule, op

O2O = MappingType.ONE_TO_ONE


def _unary(name: str, c_float: str) -> OpSpec:
    return op(name, O2O, rule=Rule.ELEMENTWISE, emitter="ops_elementwise:emit_unary",
              c_float=c_float, cost=4)


def _own(name: str, emitter: str, cost: int = 4, **kw) -> OpSpec:
    return op(name, O2O, rule=Rule.ELEMENTWISE, emitter=f"ops_activation:{emitter}", cost=cost,
              **kw)


ROWS = [
    _unary("Acos", "acosf({0})"),
    _unary("Asin", "asinf({0})"),
    _unary("Acosh", "acoshf({0})"),
    _unary("Asinh", "asinhf({0})"),
    _unary("Atanh", "atanhf({0})"),
    _unary("Cosh", "coshf({0})"),
    _unary("Sinh", "sinhf({0})"),
    _own("Selu", "emit_activation"),
    _own("Celu", "emit_activation"),
    _own("Mish", "emit_activation"),
    _own("Shrink", "emit_activation", cost=1),
    _own("ThresholdedRelu", "emit_activation", cost=1, nonneg="always"),
    _own("IsInf", "emit_isinf", cost=1),
]
