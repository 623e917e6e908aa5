"""``dnnfusion plan``: import, rewrite and plan a model; print the fusion summary."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from dnnfusion.commands.common import (
    StageProgress,
    add_device_class_options,
    add_input_shape_option,
    choose_cost_model,
    input_shapes_arg,
    print_notes,
)


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "plan",
        help="fusion plan of an ONNX model (no code generated)",
        description="Import an ONNX model, rewrite it by algebraic properties and print its "
        "DNNFusion fusion plan: blocks, mapping-type floor, unfused edges and their reasons.",
    )
    p.add_argument("model", help="path to the .onnx file")
    add_input_shape_option(p)
    p.add_argument("--json", metavar="PLAN.json", help="write the full plan as JSON")
    p.add_argument("--dot", metavar="PLAN.dot", help="write the block graph as Graphviz DOT")
    p.add_argument("--fast-math", action="store_true", help="allow rewrites that are not exact "
                   "in float32 for every input")
    p.add_argument("--no-rewrite", action="store_true", help="skip algebraic rewriting")
    p.add_argument("--max-block-inputs", type=int, default=32, metavar="N",
                   help="constraint: distinct input tensors per block (default 32)")
    p.add_argument("--max-live-values", type=int, default=16, metavar="N",
                   help="constraint: intermediate values live at once in a block (default 16)")
    add_device_class_options(p)
    p.add_argument("-q", "--quiet", action="store_true", help="no progress lines")
    p.set_defaults(handler=run)


def _write(path: str, text: str) -> None:
    """Write atomically: a temporary file next to the target, then rename."""
    target = Path(path)
    tmp = target.with_name(f".{target.name}.tmp")
    tmp.write_text(text)
    tmp.replace(target)


def run(args: argparse.Namespace) -> int:
    from compiler_core.errors import DnnFusionError
    from compiler_core.pipeline import plan_model
    from compiler_core.planner.constraints import Constraints
    from compiler_core.planner.report import summary_text, to_dot

    if args.max_block_inputs < 1 or args.max_live_values < 1:
        raise DnnFusionError("--max-block-inputs and --max-live-values must be at least 1")
    shapes = input_shapes_arg(args.input_shape)
    choice = choose_cost_model(args)
    progress = StageProgress(args.quiet)
    try:
        plan = plan_model(
            args.model,
            shapes,
            fast_math=args.fast_math,
            rewrite=not args.no_rewrite,
            cost_model=choice.cost_model,
            constraints=Constraints(args.max_block_inputs, args.max_live_values),
            progress=progress,
        )
    finally:
        notes = choice.finish()
    progress.finish()
    print_notes(notes, args)
    print(summary_text(plan))
    if args.json:
        _write(args.json, json.dumps(plan.to_dict(), indent=1) + "\n")
    if args.dot:
        _write(args.dot, to_dot(plan))
    return 0
