"""``dnnfusion`` entry point: plain verbs, exit code 2 with a one-line message on bad input.

Each verb lives in ``dnnfusion/commands/<verb>.py`` and exposes ``register(subparsers)``; the
verb's handler returns the process exit code.
"""

from __future__ import annotations

import argparse
import importlib
import sys

from compiler_core.errors import DnnFusionError

# Verb modules, in the order ``--help`` lists them. A module whose optional dependencies are
# missing still registers its verb and explains what to install when run.
COMMAND_MODULES = (
    "plan", "bench", "serve", "users", "compile", "run", "profile", "agent", "submit"
)


class _Parser(argparse.ArgumentParser):
    """argparse that reports usage errors in one line with exit code 2."""

    def error(self, message: str) -> None:  # pragma: no cover - argparse plumbing
        self.print_usage(sys.stderr)
        print(f"error: {message}", file=sys.stderr)
        raise SystemExit(2)


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="dnnfusion",
        description="DNNFusion operator-fusion compiler for ONNX models.",
    )
    sub = parser.add_subparsers(dest="verb", required=True, parser_class=_Parser)
    for name in COMMAND_MODULES:
        importlib.import_module(f"dnnfusion.commands.{name}").register(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Run the command line; returns the exit code (0 ok, 1 failure, 2 bad input)."""
    args = build_parser().parse_args(argv)
    try:
        return int(args.handler(args) or 0)
    except DnnFusionError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
