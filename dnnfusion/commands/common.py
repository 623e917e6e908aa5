"""Argument helpers shared by the verbs."""

from __future__ import annotations

import argparse
import sys

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


def progress(message: str) -> None:
    """Print a progress line on stderr (stdout stays for results)."""
    print(f"[dnnfusion] {message}", file=sys.stderr, flush=True)
