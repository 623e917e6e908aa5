"""``dnnfusion users limits NAME ...``, ``dnnfusion users show NAME`` and ``dnnfusion users list``:
per-user limits (service/quotas.py) and what each user uses of them.

A limit the user has no own value for is the server default (``DNNFUSION_DEFAULT_MAX_*``, as
this process's environment sets them: run the command with the service's environment).
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from dataclasses import dataclass

MAX_INT = 2**31 - 1  # the count columns are INTEGER
MAX_BYTES = 2**63 - 1  # max_stored_bytes is a BIGINT
DEFAULT = "default"


def register_verbs(users_sub, add_db_option: Callable[[argparse.ArgumentParser], None]) -> None:
    """Add ``limits``, ``show`` and ``list`` under ``dnnfusion users``."""
    limits = users_sub.add_parser(
        "limits",
        help="set a user's limits (429 from the API when over one)",
        description="Set a user's own limits; 'default' puts one back to the server default. "
        "Show them with `dnnfusion users show NAME`.",
    )
    limits.add_argument("name", help="user name")
    limits.add_argument("--max-concurrent", metavar="N",
                        help="compilations queued or running at once (0 allows none)")
    limits.add_argument("--max-stored-bytes", metavar="SIZE",
                        help="model and artifact bytes stored, e.g. 500M, 10G, 1T (binary units)")
    limits.add_argument("--max-uploads-per-minute", metavar="N",
                        help="model uploads in any 60 s")
    limits.add_argument("--reset", action="store_true",
                        help="put every limit not given here back to the server default")
    add_db_option(limits)
    limits.set_defaults(handler=set_limits)

    show = users_sub.add_parser("show", help="a user's limits and current usage")
    show.add_argument("name", help="user name")
    add_db_option(show)
    show.set_defaults(handler=show_user)

    listing = users_sub.add_parser("list", help="every user with limits and current usage")
    add_db_option(listing)
    listing.set_defaults(handler=list_users)


class BadValue(ValueError):
    """A limit option's value is not usable; the message is the one-line reason."""


def _count(option: str, text: str) -> int | None:
    if text.strip().lower() == DEFAULT:
        return None
    if not text.strip().isdigit() or int(text) > MAX_INT:
        raise BadValue(f"{option} {text!r}: expected a whole number 0..{MAX_INT} or 'default'")
    return int(text)


def _size(option: str, text: str) -> int | None:
    from service.sizes import parse_size

    if text.strip().lower() == DEFAULT:
        return None
    try:
        value = parse_size(text)
    except ValueError as err:
        raise BadValue(f"{option} {err}") from None
    if value > MAX_BYTES:
        raise BadValue(f"{option} {text!r}: at most {MAX_BYTES} bytes")
    return value


def parse_values(args: argparse.Namespace) -> dict[str, int | None]:
    """The limits the options set (``None``: back to the default). Raises :class:`BadValue`."""
    values: dict[str, int | None] = {}
    if args.max_concurrent is not None:
        values["max_concurrent_compilations"] = _count("--max-concurrent", args.max_concurrent)
    if args.max_stored_bytes is not None:
        values["max_stored_bytes"] = _size("--max-stored-bytes", args.max_stored_bytes)
    if args.max_uploads_per_minute is not None:
        values["max_uploads_per_minute"] = _count(
            "--max-uploads-per-minute", args.max_uploads_per_minute
        )
    return values


def _open(args: argparse.Namespace):
    """``(settings, session)`` on the service database, or None (message printed)."""
    from dnnfusion.commands.users import _session

    session = _session(args)
    if session is None:
        return None
    from dnfstore.settings import Settings

    return (Settings(data_dir=args.data_dir) if args.data_dir else Settings()), session


def set_limits(args: argparse.Namespace) -> int:
    try:
        values = parse_values(args)
    except BadValue as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    if not values and not args.reset:
        print("error: nothing to set: give --max-concurrent, --max-stored-bytes, "
              "--max-uploads-per-minute or --reset", file=sys.stderr)
        return 2

    def change(session, user) -> None:
        from service.crud import limits as crud

        crud.set_limits(session, user.id, values, reset=args.reset)

    return _show(args, change)


def show_user(args: argparse.Namespace) -> int:
    return _show(args)


def _show(args: argparse.Namespace, change: Callable[..., None] | None = None) -> int:
    """Find user ``args.name``, apply ``change(session, user)`` if given, print the user's
    limits and usage. Returns the exit code: 0, or 2 after printing the error."""
    opened = _open(args)
    if opened is None:
        return 2
    settings, session = opened
    from dnnfusion.commands.users import find_user

    with session:
        user = find_user(session, args.name, " (`dnnfusion users list` shows them)")
        if user is None:
            return 2
        if change is not None:
            change(session, user)
        _print_user(session, settings, user)
    return 0


@dataclass(frozen=True)
class Cell:
    """One limit of one user as printed: ``limit`` and ``used`` for people, ``own`` when the
    user has an own value (else the server default applies)."""

    field: str
    limit: str
    used: str
    own: bool


def _cells(session, settings, user) -> list[Cell]:
    from service.crud import limits as crud
    from service.sizes import format_bytes

    limits = crud.limits_for(session, settings, user.id)
    usage = crud.usage_of(session, user.id)
    shown = {
        "max_concurrent_compilations": (
            str(limits.max_concurrent_compilations), str(usage.concurrent_compilations)),
        "max_stored_bytes": (format_bytes(limits.max_stored_bytes),
                             format_bytes(usage.stored_bytes)),
        "max_uploads_per_minute": (
            str(limits.max_uploads_per_minute), str(usage.uploads_last_minute)),
    }
    return [Cell(f, limit, used, f in limits.custom) for f, (limit, used) in shown.items()]


def _print_user(session, settings, user) -> None:
    rows = [("limit", "value", "in use")] + [
        (c.field, f"{c.limit} ({'own' if c.own else 'default'})", c.used)
        for c in _cells(session, settings, user)
    ]
    widths = [max(len(r[i]) for r in rows) for i in range(2)]
    print(f"user {user.name} ({user.id})")
    for a, b, c in rows:
        print(f"  {a:<{widths[0]}}  {b:<{widths[1]}}  {c}")


def list_users(args: argparse.Namespace) -> int:
    opened = _open(args)
    if opened is None:
        return 2
    settings, session = opened
    from sqlalchemy import select

    from dnfstore.models import User

    with session:
        users = session.scalars(select(User).order_by(User.name)).all()
        rows = [("user", "concurrent", "stored", "uploads/min")]
        for user in users:
            cells = _cells(session, settings, user)
            rows.append((user.name, *(f"{c.used}/{c.limit}{'*' if c.own else ''}" for c in cells)))
    widths = [max(len(r[i]) for r in rows) for i in range(3)]
    for r in rows:
        print(f"{r[0]:<{widths[0]}}  {r[1]:<{widths[1]}}  {r[2]:<{widths[2]}}  {r[3]}")
    print(f"({len(users)} users; in use / limit, * = the user's own limit, else the default)")
    return 0
