"""Command line of the device agent (``python -m device_agent``, ``dnnfusion agent``)."""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

DEFAULT_SPOOL = Path(os.environ.get("STATE_DIRECTORY", "~/.local/state/dnnfusion-agent"))


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--service", default=os.environ.get("DNNFUSION_SERVER_URL"),
                   help="service URL (default $DNNFUSION_SERVER_URL)")
    p.add_argument("--key", default=os.environ.get("DNNFUSION_AGENT_KEY"),
                   help="device-agent key (default $DNNFUSION_AGENT_KEY; "
                   "`dnnfusion keys create USER --agent`)")
    p.add_argument("--adb-host", default="127.0.0.1")
    p.add_argument("--adb-port", type=int, default=5037)
    p.add_argument("--no-adb", action="store_true", help="measure only this machine's CPU")
    p.add_argument("--no-host", action="store_true", help="measure only the phones")
    p.add_argument("--once", action="store_true", help="one pass, then exit")
    p.add_argument("--interval-s", type=float, default=30.0, help="pause between passes")
    p.add_argument("--spool", type=Path, default=DEFAULT_SPOOL / "spool",
                   help="directory of results not yet acknowledged by the service")
    p.add_argument("--max-temp-c", type=float, default=45.0)
    p.add_argument("--min-battery-pct", type=float, default=20.0)
    p.add_argument("--max-wait-s", type=float, default=300.0,
                   help="how long to wait for a hot / low device before skipping it")
    p.add_argument("--poll-s", type=float, default=5.0)
    p.add_argument("--run-timeout-s", type=float, default=600.0)
    p.add_argument("--lease-s", type=float, default=900.0)
    p.add_argument("--min-ms", type=float, default=100.0,
                   help="each side of a benchmark is timed for at least this many ms")
    p.add_argument("--retries", type=int, default=5, help="retries of a failed service call")
    p.add_argument("--backoff-s", type=float, default=1.0)


def _bad(message: str) -> int:
    print(f"error: {message}", file=sys.stderr)
    return 2


def run(args: argparse.Namespace) -> int:
    """Run the agent; 0 when done (``--once``), 1 when a ``--once`` pass failed, 2 bad input."""
    if not args.service or not args.service.startswith(("http://", "https://")):
        return _bad("--service: an http(s) URL is required (or $DNNFUSION_SERVER_URL)")
    if not args.key:
        return _bad("--key: a device-agent key is required (or $DNNFUSION_AGENT_KEY)")
    for name in ("interval_s", "max_wait_s", "poll_s", "run_timeout_s", "min_ms", "backoff_s"):
        if not getattr(args, name) > 0:
            return _bad(f"--{name.replace('_', '-')}: must be positive")
    if not 10 <= args.lease_s <= 3600:
        return _bad("--lease-s: must be between 10 and 3600")
    if args.retries < 0:
        return _bad("--retries: must be 0 or more")
    try:
        import adbutils

        from device_agent.agent import Agent, AgentConfig
        from device_agent.client import ServiceClient, ServiceError
        from device_agent.logs import log
        from device_agent.spool import Spool
    except ImportError as e:
        return _bad(f"the device agent needs the agent extra: pip install -e '.[agent]' ({e})")
    try:
        spool = Spool(args.spool.expanduser())
    except OSError as e:
        return _bad(f"--spool: {e}")
    adb = None if args.no_adb else adbutils.AdbClient(host=args.adb_host, port=args.adb_port,
                                                      socket_timeout=30)
    config = AgentConfig(max_temp_c=args.max_temp_c, min_battery_pct=args.min_battery_pct,
                         max_wait_s=args.max_wait_s, poll_s=args.poll_s,
                         run_timeout_s=args.run_timeout_s, lease_s=args.lease_s,
                         min_ms=args.min_ms, host=not args.no_host)
    client = ServiceClient(args.service, args.key, retries=args.retries,
                           backoff_s=args.backoff_s)
    agent = Agent(client, spool, config, adb)
    log("agent_start", service=args.service, spool=str(spool.root), once=args.once)
    while True:
        try:
            r = agent.run_once()
            log("pass_done", posted=r.posted, released=r.released, failed=r.failed,
                unplugged=r.unplugged, waited_out=r.waited_out)
        except ServiceError as e:
            log("pass_failed", "error", error=str(e))
            if args.once:
                return 1
        if args.once:
            return 0
        time.sleep(args.interval_s)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m device_agent",
                                description="dnnfusion device agent: runs profiling "
                                "micro-benchmarks on attached phones and this CPU")
    add_arguments(p)
    try:
        return run(p.parse_args(argv))
    except KeyboardInterrupt:
        return 130
