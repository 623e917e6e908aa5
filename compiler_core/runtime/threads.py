"""Thread count and OpenMP wait policy of compiled models.

Thread count: ``InferenceSession(path, threads=N)``, else ``$DNNFUSION_NUM_THREADS``, else
OpenMP's default (``$OMP_NUM_THREADS``, else one thread per CPU). The count is applied per
session, on the calling thread at each run (``dnf_set_num_threads`` in the generated library).

Wait policy: libgomp's idle worker threads *spin* (busy-wait) for a while between parallel
regions before they sleep. A compiled model runs hundreds of short parallel regions per
inference, so on an idle machine spinning is what makes two threads pay: measured standalone
on the 2-core CI machine, 2 threads, BERT-base takes 196-202 ms spinning vs 264 ms with
``OMP_WAIT_POLICY=PASSIVE`` (idle threads sleep at once on a futex), ResNet-50 62-65 vs 95 ms.
On a machine that is oversubscribed (other processes want the cores) spinning threads steal the
time slices the working threads need and an inference can get several times slower
(bench/results/threads.md: BERT-base 1457 ms spinning vs 691 ms passive with two busy
processes). The default is libgomp's own (spin, then sleep), like ONNX Runtime's spinning
thread pool; on a shared host set ``DNNFUSION_WAIT_POLICY=passive`` (or ``OMP_WAIT_POLICY``
yourself). libgomp reads its settings **once, when it is first loaded**, so
:func:`configure_openmp` (called by the runtime before it loads a library or starts a runner)
puts ``DNNFUSION_WAIT_POLICY`` into ``OMP_WAIT_POLICY`` then; the user's ``OMP_WAIT_POLICY``
or ``GOMP_SPINCOUNT`` always wins.
If libgomp was already loaded in the process by
something else (another library linked to the same ``libgomp.so.1``), the setting cannot take
effect any more; :func:`openmp_status` says so. Set the variable yourself before starting
Python to be sure.
"""

from __future__ import annotations

import os
import threading

from compiler_core.errors import DnnFusionError
from compiler_core.target.procmaps import library_loaded

ENV_THREADS = "DNNFUSION_NUM_THREADS"
ENV_WAIT_POLICY = "DNNFUSION_WAIT_POLICY"  # "passive" or "active"; unset: libgomp's default
_POLICIES = {"passive": "PASSIVE", "active": "ACTIVE"}

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


def configure_openmp() -> None:
    """Set the wait policy in the environment before the first model library loads libgomp.

    Idempotent and cheap after the first call. The user's ``OMP_WAIT_POLICY`` or
    ``GOMP_SPINCOUNT`` is never overridden.
    """
    with _lock:
        if _state["configured"]:
            return
        _state["configured"] = True
        _state["preloaded"] = library_loaded("libgomp.so")
        if "OMP_WAIT_POLICY" in os.environ or "GOMP_SPINCOUNT" in os.environ:
            _state["applied"] = "user"
            return
        wanted = os.environ.get(ENV_WAIT_POLICY, "").strip().lower()
        if not wanted:
            _state["applied"] = "libgomp default"
            return
        if wanted not in _POLICIES:
            _state["configured"] = False
            raise DnnFusionError(
                f"${ENV_WAIT_POLICY}={wanted!r}: expected one of {sorted(_POLICIES)}"
            )
        os.environ["OMP_WAIT_POLICY"] = _POLICIES[wanted]
        _state["applied"] = "ignored (libgomp already loaded)" if _state["preloaded"] else "set"


def openmp_status() -> dict[str, str | None]:
    """What the runtime did about the wait policy (for reports and ``dnnfusion run``)."""
    return {
        "OMP_WAIT_POLICY": os.environ.get("OMP_WAIT_POLICY"),
        "GOMP_SPINCOUNT": os.environ.get("GOMP_SPINCOUNT"),
        "policy": None if _state["applied"] is None else str(_state["applied"]),
    }
