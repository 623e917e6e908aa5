"""Running leased profiling requests on this machine: what the device agent does for its own
CPU (the ``host`` device), usable without an agent too.

:func:`run_host_requests` registers this machine as device ``serial`` of its class, leases up
to ``n`` requests of that class, rebuilds and runs each stored candidate
(:func:`profiling.executable.run_stored`), and stores the samples as entries
(:func:`profiling.results.store_result`). A request whose benchmark cannot run is marked
``failed`` with its reason in ``errors``.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field

from sqlalchemy.orm import Session, sessionmaker

from compiler_core.bench.run import BenchmarkError
from compiler_core.errors import DnnFusionError
from profiling import farm, queries
from profiling.device import DeviceClassInfo, host_device_class, host_temperature_c
from profiling.executable import run_stored
from profiling.lease import lease_requests, release_request
from profiling.results import Samples, store_result


@dataclass
class HostRun:
    entries: list[int] = field(default_factory=list)  # ids of the entries stored
    errors: list[str] = field(default_factory=list)  # one line per failed request


def run_host_requests(
    sessions: sessionmaker[Session],
    *,
    owner: str,
    serial: str,
    n: int = 10,
    min_ms: float = 100.0,
    lease_s: float = 600.0,
    info: DeviceClassInfo | None = None,
) -> HostRun:
    """Lease and run up to ``n`` requests of this machine's class (``info``, default the
    host's) as ``owner`` on device ``serial``; see the module docstring."""
    info = info or host_device_class()
    out = HostRun()
    with sessions() as session, session.begin():
        dc, _ = farm.register_device(session, owner=owner, serial=serial, info=info)
        leased = [(r.id, r.signature, r.threads, queries.request_candidate(r))
                  for r in lease_requests(session, owner=owner, class_ids=[dc.id], n=n,
                                          seconds=lease_s)]
    for rid, signature, threads, stored in leased:
        try:
            if stored is None:
                raise BenchmarkError("the request has no stored candidate")
            result = run_stored(stored, signature=signature, threads=threads, min_ms=min_ms)
        except DnnFusionError as e:  # build, run, mismatch, limits: one line each
            out.errors.append(f"request {rid}: {e}")
            with sessions() as session, session.begin():
                release_request(session, owner=owner, request_id=rid, failed=True)
            continue
        with sessions() as session, session.begin():
            entry, _ = store_result(
                session, owner=owner, request_id=rid, serial=serial, key=uuid.uuid4().hex,
                samples=Samples(result.fused_us, result.separate_us, result.cpu,
                                result.max_abs_diff, host_temperature_c()))
            out.entries.append(entry.id)
    return out
