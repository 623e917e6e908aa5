"""Data movement: Reorganize and Shuffle rows, and the index operators of other types.

Inside a block these operators cost nothing: they become index arithmetic on the consumer's
loops (``codegen/ops_index.py``), hence ``index=True`` and ``cost=0``. ``repeats``: the
operator reads an input element several times (a costly computed input is worth a buffer).
Shape, axes, pads and scales inputs are read at compile time (``const_inputs``).
"""

from __future__ import annotations

from compiler_core.ir.mapping import MappingType
from compiler_core.ir.ops.spec import OpSpec, op

O2O = MappingType.ONE_TO_ONE
O2M = MappingType.ONE_TO_MANY
REORG = MappingType.REORGANIZE
SHUFFLE = MappingType.SHUFFLE


def index(name: str, mapping: MappingType, emitter: str, **kw) -> OpSpec:
    """A data-movement row emitted as index arithmetic (``"module:function"``)."""
    return op(name, mapping, emitter=emitter, index=True, cost=0, **kw)


ROWS = [
    # Reorganize: same elements in row-major order, new shape
    index("Reshape", REORG, "ops_index:emit_reshape", const_inputs=(1,), nonneg="if_first"),
    index("Flatten", REORG, "ops_index:emit_reshape", nonneg="if_all"),
    index("Squeeze", REORG, "ops_index:emit_reshape", const_inputs=(1,), nonneg="if_first"),
    index("Unsqueeze", REORG, "ops_index:emit_reshape", const_inputs=(1,),
          nonneg="if_first"),
    # Shuffle: a permutation of the elements
    index("Transpose", SHUFFLE, "ops_index:emit_transpose", nonneg="if_all"),
    # DepthToSpace, SpaceToDepth: indexing.py
    # One-to-One whatever their parameters (the paper lists them so)
    index("Slice", O2O, "ops_index:emit_slice", const_inputs=(1, 2, 3, 4), nonneg="if_first"),
    index("Concat", O2O, "ops_index:emit_concat", nonneg="if_all"),
    index("Split", O2O, "ops_index:emit_split", const_inputs=(1,)),
    # One-to-Many
    index("Expand", O2M, "ops_index:emit_expand", const_inputs=(1,), repeats=True,
          nonneg="if_first"),
    index("Gather", O2M, "ops_index:emit_gather", repeats=True, nonneg="if_first"),
    index("GatherND", O2M, "ops_index:emit_gather_nd"),
    # nearest/linear/cubic, per-axis maps; roi, scales and sizes read at compile time
    index("Resize", O2M, "ops_resize_cubic:emit_resize", const_inputs=(1, 2, 3), repeats=True),
    # constant (a branch), edge, reflect, wrap; pads and axes read at compile time
    index("Pad", O2M, "ops_pad:emit_pad", const_inputs=(1, 3)),
    op("Upsample", O2M),  # Tile, GatherElements: indexing.py
]
