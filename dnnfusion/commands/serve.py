"""``dnnfusion serve``: the whole service on one machine.

The API, an in-process worker (a thread pool running the same job function as the Celery
workers; no Redis), a SQLite file and local storage under ``--data-dir``. Runs the database
migrations itself on start, and on the first start creates the user ``admin`` and prints its
API key. ``DATABASE_URL`` still applies when set (e.g. PostgreSQL with the in-process worker).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from dnnfusion.commands.extras import missing_extra_message


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "serve",
        help="run the compilation service on this machine (API + in-process worker)",
        description=__doc__.split("\n\n", 1)[1],
    )
    parser.add_argument("--host", default="127.0.0.1", help="address to listen on")
    parser.add_argument("--port", type=int, default=8000, help="port to listen on")
    parser.add_argument(
        "--data-dir",
        type=Path,
        default=None,
        help="SQLite database and storage directory (default: $DNNFUSION_DATA_DIR or "
        "./dnnfusion-data)",
    )
    parser.add_argument(
        "--workers", type=int, default=None, help="compilations run at once (default 2)"
    )
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    try:
        import uvicorn

        from dnfstore import migrate
        from dnfstore.settings import Settings
        from service import bootstrap
        from service.main import create_app
        from service.observe import configure_logging
        from workers.embedded import EmbeddedWorker
    except ImportError as err:
        print(missing_extra_message(err, "dnnfusion serve"), file=sys.stderr)
        return 2
    overrides: dict[str, object] = {"worker_mode": "embedded"}
    if args.data_dir is not None:
        overrides["data_dir"] = args.data_dir
    if args.workers is not None:
        if args.workers < 1:
            print("error: --workers must be at least 1", file=sys.stderr)
            return 2
        overrides["embedded_workers"] = args.workers
    settings = Settings(**overrides)
    settings.storage_root.mkdir(parents=True, exist_ok=True)
    migrate.upgrade(settings)
    token = bootstrap.first_user_key(settings)
    if token is not None:
        print(
            f"first start: created user '{bootstrap.FIRST_USER}'; its API key (shown once):",
            flush=True,
        )
        print(f"  X-API-Key: {token}", flush=True)
    print(
        f"dnnfusion serve: data in {settings.data_dir.absolute()}; API on "
        f"http://{args.host}:{args.port}/api/v1 (docs at /docs)",
        flush=True,
    )
    configure_logging(settings)  # DNNFUSION_LOG_FORMAT, for the API and the in-process worker
    app = create_app(settings, dispatcher=EmbeddedWorker(settings))
    # json: configure_logging set up the JSON lines, uvicorn's loggers included; keep them.
    quiet = {"log_config": None} if settings.log_format == "json" else {}
    uvicorn.run(app, host=args.host, port=args.port, log_level="info", **quiet)
    return 0
