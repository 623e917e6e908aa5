"""The compile flow's front half as one short function per entry point.

ONNX → import (static shapes, constants folded) → memory bound (compiler_core.limits) →
algebraic rewriting → ECG (mapping types) → fusion plan (Table 3 + profitability).
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass

import onnx

from compiler_core.frontend import import_model
from compiler_core.frontend.memory import estimate_memory
from compiler_core.ir.ecg import ECG, build_ecg
from compiler_core.limits import check_estimate, memory_limit
from compiler_core.passes import rewrite_model
from compiler_core.planner.constraints import Constraints
from compiler_core.planner.cost import AnalyticCostModel, CostModel
from compiler_core.planner.greedy import GreedyPlanner
from compiler_core.planner.plan import FusionPlan, stats_dict
from compiler_core.planner.run import plan_ecg

ModelLike = str | os.PathLike | onnx.ModelProto
Progress = Callable[[str], None]


@dataclass
class PlannedModel:
    """Everything the back end needs: the ECG (rewritten graph), the planner's block graph and
    the serializable plan."""

    ecg: ECG
    planner: GreedyPlanner
    plan: FusionPlan


def _stage(progress: Progress | None, name: str) -> None:
    if progress is not None:
        progress(name)


def plan_planned(
    model: ModelLike,
    input_shapes: Mapping[str, Sequence[int]] | None = None,
    *,
    fast_math: bool = False,
    rewrite: bool = True,
    cost_model: CostModel | None = None,
    constraints: Constraints | None = None,
    prefer_epilogue: bool = True,
    progress: Progress | None = None,
    memory_limit_bytes: int | None = None,
    beyond_floor: bool = True,
) -> PlannedModel:
    """Like :func:`plan_model` but also returns the ECG and block graph for code generation."""
    limit = memory_limit(memory_limit_bytes)
    t0 = time.perf_counter()
    _stage(progress, "importing")
    imported = import_model(model, input_shapes)
    check_estimate(estimate_memory(imported.model, imported.source), limit, imported.source)
    t1 = time.perf_counter()
    _stage(progress, "rewriting")
    rewrites: dict[str, int] = {}
    if rewrite:
        rewrites = dict(rewrite_model(imported.model, fast_math=fast_math).counts)
    t2 = time.perf_counter()
    _stage(progress, "planning")
    ecg = build_ecg(imported.model)
    cost = cost_model or AnalyticCostModel()
    limits = constraints or Constraints()
    planner, fields = plan_ecg(
        ecg, cost_model=cost, constraints=limits, prefer_epilogue=prefer_epilogue,
        beyond_floor=beyond_floor,
    )
    t3 = time.perf_counter()
    timings = {
        "import_ms": (t1 - t0) * 1e3,
        "rewrite_ms": (t2 - t1) * 1e3,
        "plan_ms": (t3 - t2) * 1e3,
    }
    plan = FusionPlan(
        model=imported.source,
        original_nodes=imported.original_nodes,
        rewritten_nodes=len(ecg.nodes),
        floor=ecg.floor(),
        rewrites=rewrites,
        mapping_types={t.value: n for t, n in sorted(ecg.count_by_type().items(), key=_key)},
        intermediate_bytes_before=sum(inf.irs_bytes for inf in ecg.info),
        intermediate_bytes_after=sum(b.output_bytes for b in fields["blocks"]),
        stats=stats_dict(planner.stats),
        options={
            "fast_math": fast_math,
            "rewrite": rewrite,
            "cost_model": getattr(cost, "name", type(cost).__name__),
            "constraints": asdict(limits),
            "prefer_epilogue": prefer_epilogue,
            "beyond_floor": beyond_floor,
            "input_shapes": {k: list(v) for k, v in (input_shapes or {}).items()},
        },
        timings_ms={k: round(v, 3) for k, v in timings.items()},
        device_class=getattr(cost, "device_class", None),
        **fields,
    )
    return PlannedModel(ecg=ecg, planner=planner, plan=plan)


def _key(item):
    return item[0].complexity, item[0].value


def plan_model(
    model: ModelLike,
    input_shapes: Mapping[str, Sequence[int]] | None = None,
    *,
    fast_math: bool = False,
    rewrite: bool = True,
    cost_model: CostModel | None = None,
    constraints: Constraints | None = None,
    prefer_epilogue: bool = True,
    progress: Progress | None = None,
    memory_limit_bytes: int | None = None,
    beyond_floor: bool = True,
) -> FusionPlan:
    """Import, rewrite and plan an ONNX model (DNNFusion §3-§4.3).

    ``model``: a path to an ``.onnx`` file or a ``ModelProto``. ``input_shapes``: static shapes
    for inputs with dynamic dimensions, e.g. ``{"x": (1, 3, 640, 640)}``. ``fast_math``: allow
    rewrite rules that are not exact for every float32 input. ``cost_model``: decides "profile"
    cells (default: :class:`~compiler_core.planner.cost.AnalyticCostModel`).
    ``prefer_epilogue`` [ours]: element-wise chains between two anchors join the producer as
    its epilogue (``False``: the paper's successors-first order). ``progress`` is
    called with each stage name (``importing``, ``rewriting``, ``planning``).
    ``memory_limit_bytes``: refuse the model right after import when the lower bound of what it
    needs at these shapes (:func:`compiler_core.frontend.memory.estimate_memory`) is over it;
    None: ``$DNNFUSION_MEMORY_LIMIT_BYTES``, else 8 GiB (:mod:`compiler_core.limits`).

    Raises the :mod:`compiler_core.errors` types on bad input (one-line messages):
    :class:`~compiler_core.errors.ResourceLimitError` over the memory limit,
    :class:`~compiler_core.errors.ShapeError` for a tensor no machine could hold.
    """
    return plan_planned(
        model,
        input_shapes,
        fast_math=fast_math,
        rewrite=rewrite,
        cost_model=cost_model,
        constraints=constraints,
        prefer_epilogue=prefer_epilogue,
        beyond_floor=beyond_floor,
        progress=progress,
        memory_limit_bytes=memory_limit_bytes,
    ).plan
