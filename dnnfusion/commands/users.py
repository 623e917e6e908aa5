"""``dnnfusion users create NAME``, ``dnnfusion users share-cache NAME on|off`` and
``dnnfusion keys create USER [--agent]`` (``users limits``,
``users show`` and ``users list``: dnnfusion/commands/user_limits.py).

Keys are printed once on stdout and stored only as their sha256. The database is the service's
(``DATABASE_URL``, or the SQLite file under ``--data-dir`` / ``$DNNFUSION_DATA_DIR``).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from dnnfusion.commands.extras import missing_extra_message


def _add_db_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--data-dir",
        type=Path,
        default=None,
        help="the embedded service's data directory (ignored when DATABASE_URL is set)",
    )


def register(subparsers: argparse._SubParsersAction) -> None:
    users = subparsers.add_parser("users", help="manage service users")
    users_sub = users.add_subparsers(dest="users_verb", required=True)
    create = users_sub.add_parser("create", help="create a user")
    create.add_argument("name", help="user name (unique)")
    _add_db_option(create)
    create.set_defaults(handler=create_user)
    share = users_sub.add_parser(
        "share-cache",
        help="let other users' identical compilations reuse this user's results (or stop it)",
    )
    share.add_argument("name", help="user name")
    share.add_argument("state", choices=("on", "off"),
                       help="on: this user's succeeded compilations answer other users' "
                       "identical requests (compile cache); off (the default): only their own")
    _add_db_option(share)
    share.set_defaults(handler=share_cache)
    from dnnfusion.commands.user_limits import register_verbs

    register_verbs(users_sub, _add_db_option)  # limits, show, list

    keys = subparsers.add_parser("keys", help="manage API keys")
    keys_sub = keys.add_subparsers(dest="keys_verb", required=True)
    kcreate = keys_sub.add_parser("create", help="create an API key for a user (printed once)")
    kcreate.add_argument("user", help="name of the user the key belongs to")
    kcreate.add_argument(
        "--agent",
        action="store_true",
        help="a device-agent key: good only for the /api/v1/agent endpoints",
    )
    _add_db_option(kcreate)
    kcreate.set_defaults(handler=create_key)


def _session(args: argparse.Namespace):
    """A session on the service database, or None (message printed) if it is not usable."""
    try:
        from dnfstore.db import make_engine, make_sessionmaker
        from dnfstore.settings import Settings
        from service.bootstrap import schema_ready
    except ImportError as err:
        print(missing_extra_message(err, f"dnnfusion {args.verb}"), file=sys.stderr)
        return None
    settings = Settings(data_dir=args.data_dir) if args.data_dir else Settings()
    if not schema_ready(settings):
        print(
            "error: the database has no schema yet; run `alembic upgrade head` "
            "(or start `dnnfusion serve` once)",
            file=sys.stderr,
        )
        return None
    return make_sessionmaker(make_engine(settings))()


def find_user(session, name: str, hint: str = ""):
    """The user called ``name``, or None after printing ``error: no user named 'NAME'`` and
    ``hint`` on stderr."""
    from service.crud.users import get_user_by_name

    user = get_user_by_name(session=session, name=name)
    if user is None:
        print(f"error: no user named {name!r}{hint}", file=sys.stderr)
    return user


def create_user(args: argparse.Namespace) -> int:
    from service.crud import users as crud

    session = _session(args)
    if session is None:
        return 2
    with session:
        if crud.get_user_by_name(session=session, name=args.name):
            print(f"error: user {args.name!r} exists already", file=sys.stderr)
            return 2
        user = crud.create_user(session=session, name=args.name)
        print(f"created user {user.name} ({user.id})")
    return 0


def share_cache(args: argparse.Namespace) -> int:
    session = _session(args)
    if session is None:
        return 2
    with session:
        user = find_user(session, args.name)
        if user is None:
            return 2
        user.share_cache = args.state == "on"
        session.commit()
    print(f"{args.name}: compile cache shared with other users {args.state}")
    return 0


def create_key(args: argparse.Namespace) -> int:
    from service.crud import users as crud

    session = _session(args)
    if session is None:
        return 2
    with session:
        user = find_user(session, args.user, " (create it with `dnnfusion users create`)")
        if user is None:
            return 2
        kind = "agent" if args.agent else "user"
        _, token = crud.create_api_key(session=session, user=user, kind=kind)
    print(
        f"created a {kind} key for {args.user} (shown once; send it as X-API-Key):", file=sys.stderr
    )
    print(token)
    return 0
