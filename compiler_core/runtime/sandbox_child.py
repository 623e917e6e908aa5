"""The validation sandbox's child process (see :mod:`compiler_core.runtime.sandbox`).

Started as ``python -P <this file> REQUEST.json`` (by path, so no package ``__init__`` runs
before the limits are set). Order matters: first the limits (address space, CPU time, no core
file, no new privileges, killed with its parent), then the imports (numpy, ONNX Runtime, the
artifact's library), then the task:

- ``check``: load the artifact (maps the weights, allocates the arena) and close it.
- ``validate``: :func:`compiler_core.runtime.validate.validate_artifact` against the reference model.

The result is written as JSON to the request's ``result`` path: ``{"validation": {...}}`` or
``{"error": {"module", "type", "message"}}`` for an exception the child caught. A crash leaves no
result: the parent reads the trace file instead, three little-endian int32 at offset 0 (the
block index the library stores through ``dnf_set_trace``), 4 (the phase, an index into
:data:`PHASES`) and 8 (1 once the library's trace hook is installed).

Only the standard library is imported at module level.
"""

from __future__ import annotations

import ctypes
import errno
import json
import mmap
import os
import resource
import signal
import sys
import traceback

PHASES = ("starting", "loading", "reference", "artifact")  # trace slot 1 holds an index
TRACE_BYTES = 4096
_PR_SET_PDEATHSIG = 1
_PR_SET_NO_NEW_PRIVS = 38


def apply_limits(limits: dict, parent_pid: int) -> None:
    """Core files off, address space and CPU time capped, no privilege gain through exec, and
    SIGKILL when the parent dies. Raises OSError when a limit cannot be set."""
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
    address_space = int(limits["address_space_bytes"])
    resource.setrlimit(resource.RLIMIT_AS, (address_space, address_space))
    cpu = int(limits["cpu_seconds"])
    resource.setrlimit(resource.RLIMIT_CPU, (cpu, cpu + 5))  # SIGXCPU, then SIGKILL
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.prctl(_PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0:
        raise OSError(ctypes.get_errno(), "prctl(PR_SET_NO_NEW_PRIVS)")
    if libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0) != 0:
        raise OSError(ctypes.get_errno(), "prctl(PR_SET_PDEATHSIG)")
    if os.getppid() != parent_pid:  # the parent died before PDEATHSIG was armed
        os._exit(3)


class Trace:
    """The shared trace page: block slot (written by the library), phase, hook installed."""

    def __init__(self, path: str) -> None:
        fd = os.open(path, os.O_RDWR)
        try:
            self._map = mmap.mmap(fd, TRACE_BYTES)
        finally:
            os.close(fd)
        self.block = ctypes.c_int32.from_buffer(self._map, 0)
        self._phase = ctypes.c_int32.from_buffer(self._map, 4)
        self._hooked = ctypes.c_int32.from_buffer(self._map, 8)

    def phase(self, name: str) -> None:
        self._phase.value = PHASES.index(name)

    def hook(self, library_path: str) -> None:
        """Pass the block slot's address to the library's ``dnf_set_trace`` when it has one.

        ctypes loads the path already loaded by the session, so this is the same library
        instance (dlopen returns the loaded handle) and the slot is set for its runs."""
        setter = getattr(ctypes.CDLL(library_path), "dnf_set_trace", None)
        if setter is None:
            return
        setter.restype = None
        setter.argtypes = [ctypes.c_void_p]
        setter(ctypes.addressof(self.block))
        self._hooked.value = 1


def _run(request: dict, trace: Trace) -> dict:
    from compiler_core.runtime import InferenceSession
    from compiler_core.runtime.manifest import read_manifest
    from compiler_core.runtime.validate import validate_artifact

    trace.phase("loading")
    threads = int(request.get("threads") or 0) or None  # None: the runtime's default
    session = InferenceSession(request["artifact"], threads=threads)
    try:
        library = read_manifest(session.artifact_dir).get("library")
        if session.target == "host" and library:
            trace.hook(str((session.artifact_dir / str(library)).resolve()))
        if request["task"] == "check":
            return {"checked": True}
        v = validate_artifact(
            session,
            request["model"],
            seed=int(request.get("seed", 0)),
            runs=int(request.get("runs", 0)),
            threads=session.threads,
            phase=trace.phase,
        )
        return {"validation": v.to_dict()}
    finally:
        session.close()


_ENOMEM_TEXT = ("failed to map segment", "Cannot allocate memory", "bad_alloc",
                "Failed to allocate", "out of memory")


def _out_of_memory(err: BaseException | None) -> bool:
    """The exception, or one it was raised from, says that memory ran out (under RLIMIT_AS a
    library fails to load with "failed to map segment", ONNX Runtime with bad_alloc...)."""
    seen = 0
    while err is not None and seen < 8:
        if isinstance(err, MemoryError) or (isinstance(err, OSError)
                                             and err.errno == errno.ENOMEM):
            return True
        if any(t in str(err) for t in _ENOMEM_TEXT):
            return True
        err = err.__cause__ or err.__context__
        seen += 1
    return False


def _error(err: BaseException) -> dict:
    return {
        "error": {
            "module": type(err).__module__,
            "type": type(err).__qualname__,
            "message": " ".join(str(err).split())[:2000],
            # Plain attributes an error carries besides its message (ModelRuntimeError.block).
            "attributes": {k: v for k, v in vars(err).items()
                           if isinstance(v, (int, float, str, bool)) and not k.startswith("_")},
        }
    }


def _vm_peak() -> int | None:
    """The peak address space of this process (VmPeak, bytes), to size the limit."""
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith("VmPeak:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    return None


def _write(path: str, result: dict) -> None:
    tmp = f"{path}.tmp"
    with open(tmp, "w") as f:
        json.dump(result, f)
    os.replace(tmp, path)


def main(argv: list[str]) -> int:
    with open(argv[1]) as f:
        request = json.load(f)
    apply_limits(request["limits"], int(request["parent_pid"]))
    trace = Trace(request["trace"])
    try:
        result = _run(request, trace)
    except Exception as err:  # noqa: BLE001 - everything goes back to the parent as data
        traceback.print_exc()  # to the child's stderr, which the parent keeps for its log
        if _out_of_memory(err):
            result = {"error": {"module": "builtins", "type": "MemoryError", "message": ""}}
        else:
            result = _error(err)
    result["vm_peak_bytes"] = _vm_peak()
    _write(request["result"], result)
    sys.stdout.flush()
    sys.stderr.flush()
    # Skip interpreter teardown: ONNX Runtime's and OpenMP's thread pools have nothing left to
    # do, and a library's destructors are not worth a crash after the answer is written.
    os._exit(0)


if __name__ == "__main__":
    main(sys.argv)
