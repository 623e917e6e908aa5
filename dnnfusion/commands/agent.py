"""``dnnfusion agent``: the device agent (same as ``python -m device_agent``)."""

from __future__ import annotations

import argparse


def register(sub: argparse._SubParsersAction) -> None:
    from device_agent.cli import add_arguments

    p = sub.add_parser(
        "agent",
        help="run the device agent: profiling micro-benchmarks on attached phones and this CPU",
        description="Register this machine's CPU and the phones its adb server lists with the "
        "service, lease profiling requests of their device classes, run the benchmarks and "
        "post the results (same as `python -m device_agent`).",
    )
    add_arguments(p)
    p.set_defaults(handler=_handle)


def _handle(args: argparse.Namespace) -> int:
    from device_agent.cli import run

    return run(args)
