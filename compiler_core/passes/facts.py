"""Facts about values that conditional rules need proven (shared/dnnfusion.md §3 [ours]).

``nonnegative(v)``: every element of ``v`` is >= 0 (or NaN, which every rule propagates the
same way), for any graph input. Proven from constants and from operators whose range is
non-negative (the registry rows' ``nonneg`` fact, and the operators below with a rule of their
own); anything else is "not proven", never "false".
"""

from __future__ import annotations

import numpy as np
import onnx_ir as ir

from compiler_core.ir.ops import REGISTRY
from compiler_core.passes import matcher as mt


def nonnegative(v: ir.Value | None, depth: int = 8) -> bool:
    """True when every element of ``v`` is provably >= 0 (or NaN)."""
    if v is None:
        return False
    arr = mt.const_array(v)
    if arr is not None:
        if arr.dtype.kind == "u":
            return True
        if arr.dtype.kind not in "fi":
            return False
        with np.errstate(invalid="ignore"):
            return bool(np.all(np.isnan(arr) | (arr >= 0)))
    if v.dtype is not None and v.dtype.is_integer() and not v.dtype.is_signed():
        return True
    node = mt.producer(v)
    if node is None or depth == 0:
        return False
    op = node.op_type
    data = [i for i in node.inputs if i is not None]
    rule = REGISTRY[op].nonneg if op in REGISTRY else None  # the row's sign fact
    if rule == "always":
        return True
    if op == "Clip":
        lo = node.inputs[1] if len(node.inputs) > 1 else None
        return nonnegative(lo, depth - 1) if lo is not None else nonnegative(data[0], depth - 1)
    if op == "Max":
        return any(nonnegative(i, depth - 1) for i in data)
    if op == "Mul" and len(data) == 2 and mt.same_value(data[0], data[1]):
        return True  # x*x
    if op == "Pow":
        e = mt.scalar(node.inputs[1])
        if e is not None and e == int(e) and int(e) % 2 == 0:
            return True  # x**(2k)
        return nonnegative(data[0], depth - 1)
    if rule == "if_first":
        return nonnegative(data[0], depth - 1)  # the other inputs are indices/shapes
    if rule == "if_all":
        return all(nonnegative(i, depth - 1) for i in data)
    return False
