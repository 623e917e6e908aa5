"""Index and position rows added for operator coverage (paper Table 2 mapping types).

- DepthToSpace and SpaceToDepth (Shuffle) are index arithmetic like Transpose.
- GatherElements (One-to-Many: an input element may be read by several outputs) and Tile
  (One-to-Many) are index arithmetic on the consumer's loops (``codegen/ops_index_extra.py``).
- Trilu (One-to-One: output i is input i or zero), Range, ConstantOfShape and EyeLike
  (One-to-Many: a scalar or nothing spread over the output) compute from the output position
  (``codegen/ops_position.py``).
- ScatterElements and ScatterND are Many-to-Many (an output element depends on the data and
  on any update whose index lands on it): an anchor copies the data and applies the updates
  in order, checking every index (``codegen/anchors/scatter.py``). ``Scatter`` (opset 9-10)
  is converted to ScatterElements at import.
"""

from __future__ import annotations

from compiler_core.ir.mapping import MappingType
from compiler_core.ir.ops.spec import FREE, AnchorRef, op

O2O = MappingType.ONE_TO_ONE
O2M = MappingType.ONE_TO_MANY
M2M = MappingType.MANY_TO_MANY
_IX = "ops_index_extra:"
_POS = "ops_position:"

SHUFFLE = MappingType.SHUFFLE

ROWS = [
    # Shuffle: a permutation of the elements (paper Table 2)
    op("DepthToSpace", SHUFFLE, emitter=_IX + "emit_depth_to_space", index=True, cost=0),
    op("SpaceToDepth", SHUFFLE, emitter=_IX + "emit_space_to_depth", index=True, cost=0),
    op("GatherElements", O2M, emitter=_IX + "emit_gather_elements", index=True, cost=0,
       repeats=True),
    op("Tile", O2M, emitter=_IX + "emit_tile", index=True, cost=0, repeats=True,
       const_inputs=(1,), nonneg="if_first"),
    op("Trilu", O2O, emitter=_POS + "emit_trilu"),
    op("Range", O2M, emitter=_POS + "emit_range", const_inputs=(1,)),
    op("ConstantOfShape", O2M, emitter=_POS + "emit_constant_of_shape", const_inputs=(0,),
       flops=FREE),
    op("EyeLike", O2M, emitter=_POS + "emit_eye_like", const_inputs=(0,), flops=FREE),
    op("ScatterElements", M2M, anchor=AnchorRef("scatter:ScatterElementsAnchor")),
    op("ScatterND", M2M, anchor=AnchorRef("scatter:ScatterNDAnchor")),
]
