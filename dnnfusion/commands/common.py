"""Argument helpers shared by the verbs."""

from __future__ import annotations

import argparse
import sys
import time

from compiler_core.errors import ShapeError


def parse_input_shape(text: str) -> tuple[str, tuple[int, ...]]:
    """Parse ``NAME=D0xD1x...`` (e.g. ``x=1x3x640x640``) into ``("x", (1, 3, 640, 640))``.

    A scalar input is ``NAME=`` (empty dims). Raises :class:`ShapeError` on a malformed value.
    """
    name, sep, dims = text.rpartition("=")
    if not sep or not name:
        raise ShapeError(f"--input-shape {text!r}: expected NAME=DIMS such as x=1x3x224x224")
    if dims.strip() == "":
        return name, ()
    try:
        shape = tuple(int(d) for d in dims.lower().replace(",", "x").split("x"))
    except ValueError:
        raise ShapeError(
            f"--input-shape {text!r}: dimensions must be integers separated by 'x'"
        ) from None
    if any(d < 0 for d in shape):
        raise ShapeError(f"--input-shape {text!r}: dimensions must be non-negative")
    return name, shape


def input_shapes_arg(values: list[str] | None) -> dict[str, tuple[int, ...]]:
    """Collect repeated ``--input-shape`` options into a dict; a name given twice is an error."""
    shapes: dict[str, tuple[int, ...]] = {}
    for text in values or []:
        name, shape = parse_input_shape(text)
        if name in shapes:
            raise ShapeError(f"--input-shape {name!r} given twice")
        shapes[name] = shape
    return shapes


def add_input_shape_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--input-shape",
        action="append",
        metavar="NAME=DIMS",
        help="pin an input's shape, e.g. x=1x3x640x640 (repeatable; needed for dynamic dims)",
    )


class StageProgress:
    """Stage lines on stderr (stdout stays for results), each with the time the previous stage
    took; pass it as a ``progress`` callback."""

    def __init__(self, quiet: bool = False) -> None:
        self.quiet = quiet
        self.start = self.last = time.perf_counter()
        self.stage: str | None = None

    def __call__(self, stage: str) -> None:
        now = time.perf_counter()
        if not self.quiet:
            done = f" ({self.stage} {now - self.last:.1f} s)" if self.stage else ""
            print(f"[dnnfusion] {stage}...{done}", file=sys.stderr, flush=True)
        self.stage, self.last = stage, now

    def finish(self) -> float:
        """Print the last stage's time; returns the seconds since the start."""
        now = time.perf_counter()
        if not self.quiet and self.stage:
            print(f"[dnnfusion] done ({self.stage} {now - self.last:.1f} s)", file=sys.stderr,
                  flush=True)
        return now - self.start


def add_device_class_options(parser: argparse.ArgumentParser) -> None:
    """``--device-class KEY`` and ``--analytic``: whose measurements decide "profile" cells."""
    parser.add_argument(
        "--device-class", metavar="KEY",
        help="profiling-database device class whose measurements decide the \"profile\" "
        "fusions (default: this machine's class for target host, the stated arm64 default "
        "for linux-arm64; `dnnfusion profile --list` shows the classes)")
    parser.add_argument("--analytic", action="store_true",
                        help="decide \"profile\" fusions with the analytic model only")


def choose_cost_model(args: argparse.Namespace, target: str = "host"):
    """The cost model for ``args`` (see :func:`profiling.choose.choose_cost_model`); notes
    go to stderr, one line each."""
    from profiling.choose import choose_cost_model as choose

    return choose(target=target, device_class=args.device_class, analytic=args.analytic)


def print_notes(notes: list[str], args: argparse.Namespace) -> None:
    """Notes on stderr; ``-q`` silences them unless ``--device-class`` was given."""
    if args.quiet and not args.device_class:
        return
    for note in notes:
        print(f"note: {note}", file=sys.stderr, flush=True)
