"""Planning an ECG: the greedy planner plus the serializable blocks and unfused edges."""

from __future__ import annotations

from compiler_core.ir.ecg import ECG
from compiler_core.planner.beyond import apply_beyond_floor
from compiler_core.planner.constraints import Constraints
from compiler_core.planner.cost import AnalyticCostModel, CostModel
from compiler_core.planner.greedy import GreedyPlanner
from compiler_core.planner.plan import (
    collect_blocks,
    collect_profile_decisions,
    collect_unfused_edges,
)


def plan_ecg(
    ecg: ECG,
    *,
    cost_model: CostModel | None = None,
    constraints: Constraints | None = None,
    prefer_epilogue: bool = True,
    beyond_floor: bool = False,
) -> tuple[GreedyPlanner, dict]:
    """Run Listing 1 on ``ecg``; returns the planner (its ``blocks`` is the block graph) and
    ``{"blocks": [FusedBlock...], "unfused_edges": [UnfusedEdge...], "profile_decisions":
    [ProfileDecision...]}``.

    ``prefer_epilogue`` [ours]: see :class:`~compiler_core.planner.greedy.GreedyPlanner`;
    ``False`` explores in the paper's order (successors, then predecessors).
    ``beyond_floor`` [ours]: then make each attention chain one block and each set of
    sibling GEMMs on one input one block (:mod:`compiler_core.planner.beyond`; ``planner.blocks`` is the rebuilt block graph).
    """
    planner = GreedyPlanner(
        ecg,
        cost_model or AnalyticCostModel(),
        constraints or Constraints(),
        prefer_epilogue=prefer_epilogue,
    )
    bg = planner.run()
    if beyond_floor:
        bg = apply_beyond_floor(ecg, bg)
        planner.blocks = bg
    blocks, block_id = collect_blocks(ecg, bg)
    edges = collect_unfused_edges(ecg, planner, block_id)
    decisions = collect_profile_decisions(ecg, planner)
    return planner, {"blocks": blocks, "unfused_edges": edges, "profile_decisions": decisions}
