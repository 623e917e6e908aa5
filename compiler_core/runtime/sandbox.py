"""Run a compiled artifact in a child process under limits: the load check and the comparison
with ONNX Runtime never execute generated code in the calling process (an API, a worker).

The child (:mod:`compiler_core.runtime.sandbox_child`, a new interpreter started with
``subprocess``, not ``fork``: the caller has threads) sets its limits before it imports
anything heavy:

- ``RLIMIT_AS``, the address space: :func:`address_space_for` (the artifact's arena, weights
  and inputs/outputs, ONNX Runtime's copy of the model and its intermediates, plus a fixed
  :data:`BASE_ADDRESS_SPACE` for Python, numpy, ONNX Runtime, OpenBLAS and the thread stacks),
  or ``$DNNFUSION_VALIDATION_ADDRESS_SPACE_BYTES``;
- ``RLIMIT_CPU`` (all its threads together), ``RLIMIT_CORE`` 0, ``PR_SET_NO_NEW_PRIVS``, and
  ``PR_SET_PDEATHSIG`` so it dies with its parent;
- a wall-clock timeout here (:data:`DEFAULT_TIMEOUT_S`, or ``$DNNFUSION_VALIDATION_TIMEOUT_S``):
  the child runs in its own process group, killed whole on timeout,
  on an exception in the caller (e.g. Celery's soft time limit) and after every run (a runner's
  qemu left behind).

Outcomes, each one line: the child's own :class:`~compiler_core.errors.DnnFusionError` comes
back as the same type and message; a signal is an :class:`~compiler_core.errors.ArtifactCrashError`
("the compiled model raised SIGFPE in block 3 (Div)"; the block comes from the library's
``dnf_set_trace`` hook when it has one and manifest.json's ``blocks``); a timeout, the CPU
limit or running out of address space is a :class:`~compiler_core.errors.SandboxLimitError`.
"""

from __future__ import annotations

import contextlib
import json
import logging
import math
import os
import shutil
import signal
import struct
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import onnx

from compiler_core.errors import ArtifactCrashError, DnnFusionError, SandboxLimitError
from compiler_core.runtime import sandbox_child
from compiler_core.runtime.qemu import signal_name
from compiler_core.runtime.validate import Validation

log = logging.getLogger(__name__)

GiB = 1024**3
MiB = 1024**2
# Python + numpy + ONNX Runtime + the kernels' OpenBLAS and libgomp, with their thread stacks
# and malloc arenas, before any model: validating a one-Relu model peaks at 0.46 GiB of address
# space on 2 CPUs (VmPeak); a thread pool and a malloc arena cost up to ~64 MiB per CPU.
BASE_ADDRESS_SPACE = 1 * GiB
PER_CPU_ADDRESS_SPACE = 64 * MiB
# ONNX Runtime's side of a comparison costs ~5.5-6.6x the weights (measured with 100 MB and
# 400 MB MatMul weights: the loaded model, its serialization, two sessions, packed weights).
REFERENCE_WEIGHT_COPIES = 8
DEFAULT_TIMEOUT_S = 900.0
TIMEOUT_ENV = "DNNFUSION_VALIDATION_TIMEOUT_S"
ADDRESS_SPACE_ENV = "DNNFUSION_VALIDATION_ADDRESS_SPACE_BYTES"
_SIGNAL_MEANING = {
    signal.SIGFPE: "an arithmetic trap, e.g. an integer division by zero",
    signal.SIGSEGV: "an invalid memory access",
    signal.SIGBUS: "an invalid memory access",
    signal.SIGILL: "an illegal instruction",
    signal.SIGABRT: "an abort",
}


@dataclass(frozen=True)
class SandboxLimits:
    """``address_space_bytes`` (RLIMIT_AS), ``cpu_seconds`` (RLIMIT_CPU, all threads),
    ``timeout_s`` (wall clock)."""

    address_space_bytes: int
    cpu_seconds: int
    timeout_s: float


def address_space_for(artifact: str | os.PathLike, *, compare: bool) -> int:
    """Address-space limit (bytes) for checking (``compare=False``) or validating ``artifact``.

    Rule: :data:`BASE_ADDRESS_SPACE` + :data:`PER_CPU_ADDRESS_SPACE` per CPU, plus our run
    (weights mapped + arena + inputs and outputs twice: the feeds and the results), plus, when
    comparing, ONNX Runtime's side: :data:`REFERENCE_WEIGHT_COPIES` times the weights (the
    loaded model, its serialization, two sessions and their packed weights) and, per session,
    the sum of every unfused intermediate (``intermediate_bytes_before`` of report.json, an upper
    bound of what it keeps live; ppocr_v4_det at 640x640 peaks at 0.83 GiB) and the inputs and
    outputs again. A ``.tar.gz`` artifact: its size stands for the weights (twice for our run,
    as arena and inputs are unknown until it is extracted).
    """
    from compiler_core.runtime.archive import is_archive
    from compiler_core.runtime.manifest import read_manifest

    path = Path(artifact)
    base = BASE_ADDRESS_SPACE + PER_CPU_ADDRESS_SPACE * (os.cpu_count() or 1)
    if is_archive(path):  # not extracted yet: weights hardly compress, so scale its size
        return base + (REFERENCE_WEIGHT_COPIES + 2 if compare else 2) * path.stat().st_size
    m = read_manifest(path)
    weights = int(m.get("weights_bytes") or 0)
    arena = int(m.get("arena_bytes") or 0)
    io = sum(_tensor_bytes(t) for t in [*m.get("inputs", []), *m.get("outputs", [])])
    need = base + weights + arena + 2 * io
    if compare:
        intermediates = arena
        with contextlib.suppress(OSError, ValueError):
            report = json.loads((path / "report.json").read_text())
            intermediates = max(arena, int(report.get("intermediate_bytes_before") or 0))
        need += REFERENCE_WEIGHT_COPIES * weights + 2 * (intermediates + io)
    return need


def limits_for(
    artifact: str | os.PathLike,
    *,
    compare: bool,
    timeout_s: float | None = None,
    address_space_bytes: int | None = None,
) -> SandboxLimits:
    """The limits for one run. Address space: ``address_space_bytes``, else
    ``$DNNFUSION_VALIDATION_ADDRESS_SPACE_BYTES``, else :func:`address_space_for`. Wall clock:
    ``timeout_s``, else ``$DNNFUSION_VALIDATION_TIMEOUT_S``, else :data:`DEFAULT_TIMEOUT_S`.
    CPU time: the wall timeout times the CPUs (a backstop; the wall clock is the real limit).
    Raises :class:`~compiler_core.errors.DnnFusionError` for a malformed variable."""
    space = address_space_bytes or _env_number(ADDRESS_SPACE_ENV, int)
    if not space:
        space = address_space_for(artifact, compare=compare)
    wall = timeout_s or _env_number(TIMEOUT_ENV, float) or DEFAULT_TIMEOUT_S
    cpu = math.ceil(float(wall) * (os.cpu_count() or 1)) + 10
    return SandboxLimits(int(space), cpu, float(wall))


def _env_number(name: str, kind: type) -> float | int | None:
    text = os.environ.get(name, "").strip()
    if not text:
        return None
    try:
        value = kind(text)
    except ValueError:
        value = 0
    if not value > 0 or value == float("inf"):
        raise DnnFusionError(f"${name} must be a positive number, not {text[:40]!r}")
    return value


def check_artifact(artifact: str | os.PathLike, *, limits: SandboxLimits | None = None,
                   threads: int = 0) -> None:
    """Load ``artifact`` in the sandbox (maps the weights, allocates the arena) and close it.

    Raises the loader's :class:`~compiler_core.errors.DnnFusionError` (e.g. ``ArtifactError``),
    :class:`ArtifactCrashError` or :class:`SandboxLimitError`."""
    _run_child("check", Path(artifact), None, limits or limits_for(artifact, compare=False),
               threads=threads)


def validate_artifact_sandboxed(
    artifact: str | os.PathLike,
    model: str | os.PathLike | onnx.ModelProto,
    *,
    runs: int = 10,
    threads: int = 2,
    seed: int = 0,
    limits: SandboxLimits | None = None,
) -> Validation:
    """:func:`compiler_core.runtime.validate.validate_artifact` (our artifact and the ONNX Runtime
    reference, numerics and latency) in the sandbox; same arguments and result.

    Raises what the child raised (same type and message; e.g.
    :class:`~compiler_core.errors.ReferenceRuntimeError` when ONNX Runtime refuses the model),
    :class:`ArtifactCrashError` or :class:`SandboxLimitError`.
    """
    out = _run_child("validate", Path(artifact), model,
                     limits or limits_for(artifact, compare=True),
                     threads=threads, runs=runs, seed=seed)
    return Validation(**out["validation"])


def _run_child(task: str, artifact: Path, model, limits: SandboxLimits, **params) -> dict:
    work = Path(tempfile.mkdtemp(prefix="dnnfusion-sandbox-"))
    try:
        trace = work / "trace"
        trace.write_bytes(struct.pack("<iii", -2, 0, 0).ljust(sandbox_child.TRACE_BYTES, b"\0"))
        request = {
            "task": task,
            "artifact": str(artifact.resolve()),
            "model": None if model is None else _model_path(model, work),
            "limits": {"address_space_bytes": limits.address_space_bytes,
                       "cpu_seconds": limits.cpu_seconds},
            "parent_pid": os.getpid(),
            "trace": str(trace),
            "result": str(work / "result.json"),
            **params,
        }
        (work / "request.json").write_text(json.dumps(request))
        rc, timed_out = _spawn(work, limits.timeout_s)
        result = work / "result.json"
        if rc == 0 and result.is_file():
            out = json.loads(result.read_text())
            log.debug("validation child: peak address space %s of %s bytes",
                      out.get("vm_peak_bytes"), limits.address_space_bytes)
            return _outcome(out, limits)
        stderr = _tail(work / "stderr")
        if stderr:
            log.info("validation child (exit %s) stderr: %s", rc, stderr[-2000:])
        raise _failure(rc, timed_out, trace.read_bytes()[:12], artifact, limits, stderr)
    finally:
        shutil.rmtree(work, ignore_errors=True)


def _spawn(work: Path, timeout_s: float) -> tuple[int, bool]:
    """Run the child in its own process group; returns (exit status, timed out). The group is
    killed before the child is reaped, so its id cannot have been reused."""
    env = dict(os.environ)
    root = str(Path(__file__).resolve().parents[2])  # the directory holding compiler_core/
    env["PYTHONPATH"] = os.pathsep.join(p for p in (root, env.get("PYTHONPATH")) if p)
    cmd = [sys.executable, "-P", str(Path(sandbox_child.__file__).resolve()),
           str(work / "request.json")]
    with open(work / "stdout", "wb") as out, open(work / "stderr", "wb") as err:
        proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=out, stderr=err, env=env,
                                cwd=work, process_group=0, close_fds=True)
    timed_out = False
    try:
        deadline = time.monotonic() + timeout_s
        pause = 0.005
        while not _exited(proc.pid):
            if time.monotonic() > deadline:
                timed_out = True
                break
            time.sleep(pause)
            pause = min(pause * 2, 0.1)
    finally:  # also on an exception here (Celery's soft time limit, Ctrl-C)
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
    return proc.returncode, timed_out


def _exited(pid: int) -> bool:
    """True once ``pid`` has exited; it stays a zombie (not reaped) so its group id is ours."""
    try:
        info = os.waitid(os.P_PID, pid, os.WEXITED | os.WNOHANG | os.WNOWAIT)
    except ChildProcessError:  # reaped by someone else (a SIGCHLD handler): gone anyway
        return True
    return info is not None


def _outcome(result: dict, limits: SandboxLimits) -> dict:
    err = result.get("error")
    if err is None:
        return result
    if err["type"] == "MemoryError" and err["module"] == "builtins":
        raise SandboxLimitError(_out_of_memory(limits))
    cls = _error_class(err["module"], err["type"])
    if cls is None:
        raise ArtifactCrashError(
            f"validation failed with an unexpected {err['type']}: {err['message']}"[:600])
    exc = cls.__new__(cls)
    DnnFusionError.__init__(exc, err["message"])
    for key, value in (err.get("attributes") or {}).items():  # e.g. ModelRuntimeError.block
        setattr(exc, key, value)
    raise exc


def _error_class(module: str, name: str) -> type[DnnFusionError] | None:
    """A DnnFusionError subclass of ours named by the child, else None."""
    if module != "compiler_core" and not module.startswith("compiler_core."):
        return None
    import importlib

    try:
        obj = importlib.import_module(module)
        for part in name.split("."):
            obj = getattr(obj, part)
    except (ImportError, AttributeError):
        return None
    return obj if isinstance(obj, type) and issubclass(obj, DnnFusionError) else None


def _failure(rc: int, timed_out: bool, trace: bytes, artifact: Path, limits: SandboxLimits,
             stderr: str) -> DnnFusionError:
    block, phase_index, hooked = struct.unpack("<iii", trace)
    phases = sandbox_child.PHASES
    phase = phases[phase_index] if 0 <= phase_index < len(phases) else "starting"
    where = {
        "starting": "the validation process",
        "loading": "the compiled model",
        "reference": "ONNX Runtime",
        "artifact": "the compiled model",
    }[phase]
    if timed_out:
        return SandboxLimitError(
            f"{where} did not finish within the validation time limit of {limits.timeout_s:g} s"
            f" ({_doing(phase)}); set ${TIMEOUT_ENV}")
    if rc < 0 and -rc == signal.SIGXCPU:
        return SandboxLimitError(
            f"{where} exceeded the validation CPU time limit of {limits.cpu_seconds} s "
            f"({_doing(phase)})")
    if rc < 0:
        name = signal_name(-rc)
        if -rc == signal.SIGKILL:
            return ArtifactCrashError(
                f"{where} was killed (SIGKILL; the system may be out of memory) while "
                f"{_doing(phase)}")
        text = f"{where} raised {name}"
        if phase == "artifact" and hooked and block >= 0:
            text += f" in {_block_text(artifact, block)}"
        elif phase == "loading":
            text += " while loading"
        elif phase == "reference":
            text += " while computing the reference outputs"
        meaning = _SIGNAL_MEANING.get(-rc)
        return ArtifactCrashError(text + (f" ({meaning})" if meaning else ""))
    if "MemoryError" in stderr or "Cannot allocate memory" in stderr:
        return SandboxLimitError(_out_of_memory(limits))
    last = stderr.strip().splitlines()[-1][:300] if stderr.strip() else "no message"
    return ArtifactCrashError(f"{where} exited with code {rc} while {_doing(phase)}: {last}")


def _doing(phase: str) -> str:
    return {
        "starting": "starting",
        "loading": "loading the artifact",
        "reference": "computing the reference outputs",
        "artifact": "running the compiled model",
    }[phase]


def _out_of_memory(limits: SandboxLimits) -> str:
    from compiler_core.planner.report import human_bytes

    return (f"validation ran out of its address-space limit of "
            f"{human_bytes(limits.address_space_bytes)}; set ${ADDRESS_SPACE_ENV}")


def _block_text(artifact: Path, index: int) -> str:
    """``block 3 (Conv, Relu)`` from manifest.json's ``blocks``; ``block #index`` without it."""
    try:
        blocks = json.loads((artifact / "manifest.json").read_text()).get("blocks") or []
        entry = blocks[index]
        ops = [str(o) for o in entry.get("ops", [])]
    except (OSError, ValueError, IndexError, AttributeError, TypeError):
        return f"block #{index}"
    shown = ", ".join(ops[:6]) + (f", ... ({len(ops)} ops)" if len(ops) > 6 else "")
    return f"block {entry.get('id', index)} ({shown})"


def _model_path(model, work: Path) -> str:
    if not isinstance(model, onnx.ModelProto):
        return str(Path(model).resolve())
    path = work / "reference.onnx"
    try:
        path.write_bytes(model.SerializeToString())
    except ValueError:  # over protobuf's 2 GiB: weights as external data
        onnx.save_model(model, str(path), save_as_external_data=True,
                        location="reference.data")
    return str(path)


def _tail(path: Path, limit: int = 8192) -> str:
    try:
        with open(path, "rb") as f:
            f.seek(max(0, f.seek(0, os.SEEK_END) - limit))
            return f.read().decode(errors="replace")
    except OSError:
        return ""


def _tensor_bytes(t: dict) -> int:
    import numpy as np

    itemsize = np.dtype(str(t.get("dtype", "float32"))).itemsize
    return math.prod(int(d) for d in t.get("shape", [])) * itemsize


__all__ = [
    "SandboxLimits",
    "address_space_for",
    "check_artifact",
    "limits_for",
    "validate_artifact_sandboxed",
]
