"""Running one leased request's benchmark: on a phone (built as the static ``linux-arm64``
binary, pushed to ``/data/local/tmp``, run with a timeout and pinned to the big cores) or on
the agent's own CPU (built for ``host``)."""

from __future__ import annotations

import base64
import contextlib
import json
import tempfile
from dataclasses import dataclass
from pathlib import Path

import adbutils

from compiler_core.bench.run import BenchmarkError, run_benchmark
from device_agent.discovery import PhoneIdentity
from profiling.candidate import StoredCandidate
from profiling.executable import build_stored

DEVICE_DIR = "/data/local/tmp"


@dataclass(frozen=True)
class Measured:
    """Per-run samples in µs of each side; ``cpu``: what the benchmark reported."""

    fused_us: tuple[float, ...]
    separate_us: tuple[float, ...]
    cpu: str
    max_abs_diff: float


def stored_of(req: dict) -> StoredCandidate:
    """The candidate of a lease answer's request (see ``service.schemas.agent.LeasedRequest``)."""
    try:
        model = base64.b64decode(req["candidate_onnx_b64"], validate=True)
    except ValueError:
        raise BenchmarkError("leased candidate is not base64") from None
    return StoredCandidate(model, list(req["first"]), list(req["second"]))


def run_on_host(req: dict, *, min_ms: float, timeout_s: float) -> Measured:
    """Build and run ``req``'s benchmark here. Raises :class:`BenchmarkError`."""
    with tempfile.TemporaryDirectory(prefix="dnf-agent-") as tmp:
        built = build_stored(stored_of(req), Path(tmp) / "bench.run",
                             signature=req["signature"], threads=req["threads"])
        r = run_benchmark(built, threads=req["threads"], min_ms=min_ms, timeout=timeout_s)
    return Measured(r.fused_us, r.separate_us, r.cpu, r.max_abs_diff)


def run_on_phone(dev: adbutils.AdbDevice, ident: PhoneIdentity, req: dict, *, min_ms: float,
                 timeout_s: float) -> Measured:
    """Build ``req``'s benchmark for ``linux-arm64``, push it, run it (``taskset`` on the big
    cores when the clusters differ) within ``timeout_s`` seconds, parse its last JSON line and
    remove it. Raises :class:`BenchmarkError` (build, failed run, bad output),
    :class:`adbutils.AdbTimeout` (over the timeout) and :class:`adbutils.AdbError` (the phone
    went away)."""
    remote = f"{DEVICE_DIR}/dnf-bench-{int(req['id'])}"
    with tempfile.TemporaryDirectory(prefix="dnf-agent-") as tmp:
        built = build_stored(stored_of(req), Path(tmp) / "bench.run", signature=req["signature"],
                             threads=req["threads"], target="linux-arm64")
        dev.sync.push(str(built.path), remote, mode=0o755)
    cmd = f"{remote} -t {int(req['threads'])} --min-ms {min_ms:g}"
    if ident.taskset_mask:
        cmd = f"taskset {ident.taskset_mask} {cmd}"
    try:
        res = dev.shell2(cmd, timeout=timeout_s)
    finally:
        with contextlib.suppress(adbutils.AdbError):
            dev.shell(f"rm -f {remote}", timeout=10)
    lines = [ln for ln in str(res.output).strip().splitlines() if ln.startswith("{")]
    try:
        doc = json.loads(lines[-1]) if lines else {}
    except json.JSONDecodeError:
        doc = {}
    if res.returncode != 0 or not doc.get("ok"):
        raise BenchmarkError(f"benchmark failed on {ident.serial} (exit {res.returncode}): "
                             f"{str(doc.get('error', res.output))[-200:]}")
    if doc.get("signature") != req["signature"]:
        raise BenchmarkError("benchmark reported another signature than the request's")
    return Measured(tuple(float(x) for x in doc["fused_us"]),
                    tuple(float(x) for x in doc["separate_us"]), str(doc.get("cpu", "")),
                    float(doc["max_abs_diff"]))
