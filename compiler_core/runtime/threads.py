"""Thread count and OpenMP wait policy of compiled models.

Thread count: ``InferenceSession(path, threads=N)``, else ``$DNNFUSION_NUM_THREADS``, else
OpenMP's default (``$OMP_NUM_THREADS``, else one thread per CPU). The count is applied per
session, on the calling thread at each run (``dnf_set_num_threads`` in the generated library).

Wait policy: by default libgomp's idle worker threads *spin* (busy-wait) for a while between
parallel regions before they sleep. A compiled model runs hundreds of short parallel regions
per inference, so on an idle machine spinning saves a few microseconds per region; but on a
machine that is oversubscribed (other processes want the cores) the spinning threads steal the
time slices the working threads need, and an inference can get several times slower.
libgomp reads its settings **once, when it is first loaded**, so they must be in the process
environment before the first model library is loaded. :func:`configure_openmp` (called by the
runtime before it loads a library or starts a runner) sets ``OMP_WAIT_POLICY=PASSIVE`` (idle
threads sleep at once on a futex) unless the user set ``OMP_WAIT_POLICY`` or
``GOMP_SPINCOUNT`` (theirs wins: ``OMP_WAIT_POLICY=ACTIVE`` restores busy-waiting, e.g.
``GOMP_SPINCOUNT=10000`` a short spin). Measured on the 2-core CI machine
(``python -m bench.latency --wait-policy``, bench/results/threads.md), 2 threads: with two
extra busy processes, libgomp's default spinning took BERT-base from 691 ms (PASSIVE) to
1457 ms and the 2-layer test BERT from 0.13 ms to 152 ms (TinyBERT: 40 vs 31 ms). On a machine
with no extra load spinning is faster (BERT-base 209 vs 265 ms, TinyBERT 13 vs 21 ms): set
``OMP_WAIT_POLICY=ACTIVE`` on a dedicated machine. PASSIVE is the default because it is never
pathological and never burns CPU another process could use.
If libgomp was already loaded in the process by
something else (another library linked to the same ``libgomp.so.1``), the setting cannot take
effect any more; :func:`openmp_status` says so. Set the variable yourself before starting
Python to be sure.
"""

from __future__ import annotations

import os
import threading

from compiler_core.errors import DnnFusionError

ENV_THREADS = "DNNFUSION_NUM_THREADS"
# libgomp with no policy set spins 300,000 iterations (tens of milliseconds) before sleeping.
DEFAULT_WAIT_POLICY = "PASSIVE"

_lock = threading.Lock()
_state: dict[str, object] = {"configured": False, "applied": None, "preloaded": None}


def resolve_threads(threads: int | None) -> int:
    """The thread count a session uses: ``threads``, else ``$DNNFUSION_NUM_THREADS``, else 0
    (OpenMP's default). Raises :class:`DnnFusionError` for a value that is not a positive
    integer."""
    if threads is None:
        text = os.environ.get(ENV_THREADS, "").strip()
        if not text:
            return 0
        try:
            threads = int(text)
        except ValueError:
            raise DnnFusionError(f"${ENV_THREADS}={text!r} is not an integer") from None
        source = f"${ENV_THREADS}"
    else:
        source = "threads"
    if isinstance(threads, bool) or not isinstance(threads, int) or threads < 1:
        raise DnnFusionError(f"{source} must be a positive integer, not {threads!r}")
    return threads


def _libgomp_loaded() -> bool:
    try:
        with open("/proc/self/maps") as f:
            return any("/libgomp.so" in line for line in f)
    except OSError:  # not Linux: cannot tell
        return False


def configure_openmp() -> None:
    """Set the wait policy in the environment before the first model library loads libgomp.

    Idempotent and cheap after the first call. The user's ``OMP_WAIT_POLICY`` or
    ``GOMP_SPINCOUNT`` is never overridden.
    """
    with _lock:
        if _state["configured"]:
            return
        _state["configured"] = True
        _state["preloaded"] = _libgomp_loaded()
        if "OMP_WAIT_POLICY" in os.environ or "GOMP_SPINCOUNT" in os.environ:
            _state["applied"] = "user"
            return
        os.environ["OMP_WAIT_POLICY"] = DEFAULT_WAIT_POLICY
        _state["applied"] = "ignored (libgomp already loaded)" if _state["preloaded"] else "set"


def openmp_status() -> dict[str, str | None]:
    """What the runtime did about the wait policy (for reports and ``dnnfusion run``)."""
    return {
        "OMP_WAIT_POLICY": os.environ.get("OMP_WAIT_POLICY"),
        "GOMP_SPINCOUNT": os.environ.get("GOMP_SPINCOUNT"),
        "policy": None if _state["applied"] is None else str(_state["applied"]),
    }
