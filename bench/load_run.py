"""A load run against the compose-shaped stack: many clients submitting at once.

    python -m bench.load_run [--submits 200] [--clients 20] [--users 4] [--workers 2]

Starts :func:`bench.stack.local_stack` (PostgreSQL, Redis, an S3 server, the API, ``--workers``
Celery workers with separate disks), makes ``--users`` users with tight per-user limits
(``dnnfusion users limits``: ``--max-concurrent`` compilations, ``--uploads-per-minute``), then
``--clients`` threads (spread over the users) each run ``submits / clients`` submits through
:class:`dnnfusion.client.Client`: upload, compile, wait, download, the way ``dnnfusion submit``
does. Every other submit of a client repeats the model and shapes of one of its earlier ones
(a compile-cache hit); the others are new small models (an MLP with its own random weights,
so a compile and a validation each). A 429 is waited out for its ``Retry-After`` (at most 10 s)
and the request sent again; each is counted.

Checked at the end, from the database: every accepted compilation succeeded (none lost),
none ran more than once (``attempts``), each artifact downloaded matches the sha256 the API
announced. Writes ``bench/results/load_run.md``: time to artifact (submit start to artifact on
disk) p50/p95/max, for compiles and for cache hits, 429s per limit, the totals.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from bench.latency import RESULTS, _cpu, _load, _now, _write

MAX_WAIT_S = 10.0


@dataclass
class Outcome:
    client: int
    seconds: float
    cache_hit: bool
    compilation_id: str
    sha_ok: bool


@dataclass
class Totals:
    outcomes: list[Outcome] = field(default_factory=list)
    throttled: Counter = field(default_factory=Counter)  # where -> 429 count
    errors: list[str] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)


def mlp_model(path: Path, seed: int, hidden: int = 64) -> Path:
    """A small MLP (x[8,32] -> MatMul -> Add -> Relu -> MatMul -> y[8,16]) with weights
    drawn from ``seed``: distinct bytes per seed."""
    from onnx import helper, numpy_helper, save

    rng = np.random.default_rng(seed)
    inits = [numpy_helper.from_array(rng.standard_normal(s).astype(np.float32), n)
             for n, s in (("w1", (32, hidden)), ("b1", (hidden,)), ("w2", (hidden, 16)))]
    graph = helper.make_graph(
        [helper.make_node("MatMul", ["x", "w1"], ["h"]), helper.make_node("Add", ["h", "b1"], ["a"]),
         helper.make_node("Relu", ["a"], ["r"]), helper.make_node("MatMul", ["r", "w2"], ["y"])],
        "mlp", [helper.make_tensor_value_info("x", 1, [8, 32])],
        [helper.make_tensor_value_info("y", 1, [8, 16])], inits)
    save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 21)]), path)
    return path


def _until_accepted(send, totals: Totals, where: str):
    """``send()`` until it is not a 429; each 429 counted under ``where`` and waited out for
    its Retry-After (at most MAX_WAIT_S; 1 s when it has none)."""
    from dnnfusion.client.errors import QuotaExceededError

    while True:
        try:
            return send()
        except QuotaExceededError as err:
            with totals.lock:
                totals.throttled[where] += 1
            time.sleep(min(MAX_WAIT_S, err.retry_after if err.retry_after is not None else 1.0))


def client_loop(index: int, base_url: str, key: str, n: int, workdir: Path, totals: Totals) -> None:
    import hashlib

    from dnnfusion.client import Client
    from dnnfusion.client.errors import DnnfusionError

    earlier: list[Path] = []
    with Client(base_url, key, timeout_s=120) as client:
        for i in range(n):
            repeat = i % 2 == 1 and earlier
            path = earlier[-1] if repeat else mlp_model(workdir / f"c{index}-{i}.onnx",
                                                        seed=index * 1000 + i)
            t0 = time.perf_counter()
            try:
                model = _until_accepted(lambda p=path: client.upload_model(p), totals, "upload")
                job = _until_accepted(lambda m=model: client.compile(m), totals, "compile")
                status = job.wait(timeout=900)
                out = job.download(workdir / f"c{index}-{i}.tar.gz")
                seconds = time.perf_counter() - t0
                sha = hashlib.sha256(out.read_bytes()).hexdigest()
                hit = bool(status.raw.get("cache_hit"))
                with totals.lock:
                    totals.outcomes.append(Outcome(index, seconds, hit, job.id,
                                                   sha == status.artifact_sha256))
                out.unlink()
            except DnnfusionError as e:
                with totals.lock:
                    totals.errors.append(f"client {index} submit {i}: {type(e).__name__}: {e}")
            if not repeat:
                earlier.append(path)


def _pct(values: list[float], q: float) -> float:
    return float(np.percentile(values, q)) if values else float("nan")


def check_database(database_url: str, ids: list[str]) -> dict:
    """States and attempts of every compilation in the stack's database."""
    from sqlalchemy import create_engine, text

    engine = create_engine(database_url)
    with engine.connect() as c:
        rows = c.execute(text("SELECT id, state, attempts, worker FROM compilations")).all()
    engine.dispose()
    states = Counter(r.state for r in rows)
    return {
        "rows": len(rows),
        "states": dict(states),
        "ran_twice": sum(1 for r in rows if (r.attempts or 0) > 1),
        "workers": dict(Counter((r.worker or "(none: cache hit)").split("@")[0] for r in rows)),
        "missing": sorted(set(ids) - {str(r.id) for r in rows}),
    }


def main(argv: list[str] | None = None) -> int:
    from bench.stack import local_stack

    ap = argparse.ArgumentParser(prog="python -m bench.load_run",
                                 description=__doc__.split("\n\n")[0])
    ap.add_argument("--submits", type=int, default=200)
    ap.add_argument("--clients", type=int, default=20)
    ap.add_argument("--users", type=int, default=4)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--max-concurrent", type=int, default=3,
                    help="per-user concurrent compilations (default 3)")
    ap.add_argument("--uploads-per-minute", type=int, default=20,
                    help="per-user uploads per minute (default 20)")
    ap.add_argument("--local-storage", action="store_true",
                    help="one shared storage directory instead of the S3 server")
    ap.add_argument("--out", help="markdown file (default bench/results/load_run.md)")
    args = ap.parse_args(argv)
    root = Path(tempfile.mkdtemp(prefix="dnnfusion-load-"))
    load_before = _load()
    totals = Totals()
    with local_stack(root, workers=args.workers, s3=not args.local_storage) as stack:
        keys = []
        for u in range(args.users):
            keys.append(stack.add_user(f"load{u}"))
            stack.cli("users", "limits", f"load{u}", "--max-concurrent", str(args.max_concurrent),
                      "--max-uploads-per-minute", str(args.uploads_per_minute))
        per_client = args.submits // args.clients
        work = root / "clients"
        work.mkdir()
        print(f"stack up: {stack.base_url}; {args.clients} clients x {per_client} submits, "
              f"{args.users} users, {args.workers} workers", flush=True)
        t0 = time.perf_counter()
        threads = [threading.Thread(target=client_loop,
                                    args=(c, stack.base_url, keys[c % args.users], per_client,
                                          work, totals)) for c in range(args.clients)]
        for t in threads:
            t.start()
        while any(t.is_alive() for t in threads):
            time.sleep(5)
            print(f"  {time.perf_counter() - t0:5.0f} s: {len(totals.outcomes)} artifacts, "
                  f"429s {dict(totals.throttled)}, errors {len(totals.errors)}", flush=True)
        wall = time.perf_counter() - t0
        db = check_database(stack.database_url, [o.compilation_id for o in totals.outcomes])
    compiled = [o.seconds for o in totals.outcomes if not o.cache_hit]
    hits = [o.seconds for o in totals.outcomes if o.cache_hit]
    every = [o.seconds for o in totals.outcomes]
    bad_sha = sum(1 for o in totals.outcomes if not o.sha_ok)
    lines = [
        "# Load run: many clients against the compose-shaped stack",
        "",
        f"Generated by `python -m bench.load_run` on {_now()}. Machine: {_cpu()}; load average "
        f"{load_before} before, {_load()} after. Stack (`bench.stack`): PostgreSQL, Redis, "
        + ("one storage directory shared by all (--local-storage)" if args.local_storage else
           "moto's S3 server (the only storage the processes share)")
        + f", the API (uvicorn, one process) and {args.workers} Celery workers (concurrency 1"
        + (")" if args.local_storage else ", each with its own disk)") + ". "
        f"{args.clients} client threads, {per_client} submits each ({args.clients * per_client} "
        f"in all) over {args.users} users with limits: {args.max_concurrent} concurrent "
        f"compilations, {args.uploads_per_minute} uploads per minute. Every other submit repeats "
        "an earlier model of the same client (a compile-cache hit); the others compile a new "
        "small MLP (with validation against ONNX Runtime).",
        "",
        "| | count | p50 s | p95 s | max s |",
        "|---|---|---|---|---|",
    ]
    for label, vals in (("time to artifact, all", every), ("compiled", compiled),
                        ("cache hit", hits)):
        lines.append(f"| {label} | {len(vals)} | {_pct(vals, 50):.2f} | {_pct(vals, 95):.2f} | "
                     f"{max(vals, default=float('nan')):.2f} |")
    lines += [
        "",
        f"- wall time {wall:.0f} s; artifacts downloaded {len(every)} of "
        f"{args.clients * per_client}; sha256 mismatches {bad_sha}; client errors "
        f"{len(totals.errors)}",
        f"- 429 answers (waited out for Retry-After, then sent again): "
        f"{dict(totals.throttled) or 'none'}",
        f"- database: {db['rows']} compilations, states {db['states']}, ran more than once "
        f"{db['ran_twice']}, by worker {db['workers']}, downloaded ids missing from the "
        f"database {len(db['missing'])}",
    ]
    lines += [f"- error: {e}" for e in totals.errors[:10]]
    out = Path(args.out or RESULTS / "load_run.md")
    _write(out, "\n".join(lines) + "\n")
    print("\n".join(lines))
    ok = (not totals.errors and bad_sha == 0 and db["ran_twice"] == 0 and not db["missing"]
          and set(db["states"]) <= {"succeeded"})
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
