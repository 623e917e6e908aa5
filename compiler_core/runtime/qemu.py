"""The runner backend: a runner-target artifact (``linux-arm64``) run as a subprocess.

On a host of the target's architecture the static ``model.run`` is executed directly; elsewhere
under ``qemu-aarch64`` (``apt-get install qemu-user``): slow, but the same instructions and so
the same results as on the device. Each run writes the inputs to raw files in a private
temporary folder, runs the binary (see :mod:`compiler_core.codegen.runner` for its command line)
and reads the outputs back. A run the model stops with an error (the runner's exit code
:data:`~compiler_core.target.abi.MODEL_ERROR_EXIT`) raises
:class:`~compiler_core.errors.ModelRuntimeError` with the message the in-process backend gives.
"""

from __future__ import annotations

import os
import platform
import re
import shutil
import signal
import subprocess
import tempfile
from pathlib import Path

import numpy as np

from compiler_core.errors import ArtifactCrashError, DnnFusionError, ModelRuntimeError
from compiler_core.runtime.manifest import ArtifactError
from compiler_core.runtime.threads import configure_openmp
from compiler_core.target.abi import BY_CODE, MODEL_ERROR_EXIT, message
from compiler_core.target.targets import Target

DEFAULT_TIMEOUT_S = 3600.0


def signal_name(signum: int) -> str:
    """``SIGSEGV`` for 11; ``signal 99`` for a number Python does not name."""
    try:
        return signal.Signals(signum).name
    except ValueError:
        return f"signal {signum}"


class RunnerBackend:
    def __init__(self, path: Path, runner_name: str, weights_name: str, target: Target,
                 threads: int, *, timeout: float = DEFAULT_TIMEOUT_S) -> None:
        launcher = target.launcher()
        if launcher is None:
            raise ArtifactError(
                f"{path}: a {target.name} artifact cannot run on this {platform.machine()} "
                f"host without {target.emulator[0]} (apt-get install qemu-user, or set "
                f"${target.emulator_env})"
            )
        configure_openmp()  # the runner inherits the wait policy through the environment
        self._cmd = [*launcher, str((path / runner_name).resolve())]
        self._weights = str((path / weights_name).resolve())
        self._timeout = timeout
        self.launcher = launcher
        out = self._call(["--check", self._weights])
        fields = dict(line.split(" ", 1) for line in out.splitlines() if " " in line)
        try:
            self.n_blocks = int(fields["blocks"])
        except (KeyError, ValueError):
            raise ArtifactError(f"{path}: {runner_name} did not report its blocks") from None
        self.threads = threads or (os.cpu_count() or 1)
        self._threads_arg = threads
        self._tmp: Path | None = Path(tempfile.mkdtemp(prefix="dnnfusion-run-"))

    def _call(self, args: list[str]) -> str:
        try:
            res = subprocess.run([*self._cmd, *args], capture_output=True, text=True,
                                 timeout=self._timeout)
        except subprocess.TimeoutExpired as e:
            raise DnnFusionError(f"model runner timed out after {self._timeout:g} s") from e
        except OSError as e:
            raise ArtifactError(f"cannot execute the model runner: {e}") from e
        if res.returncode < 0:  # killed by a signal (qemu re-raises the guest's)
            raise ArtifactCrashError(f"the compiled model raised {signal_name(-res.returncode)}")
        if res.returncode != 0:
            lines = res.stderr.strip().splitlines() or [f"exit code {res.returncode}"]
            if res.returncode == MODEL_ERROR_EXIT:
                raise _model_error(lines[-1])
            raise DnnFusionError(f"model runner failed: {lines[-1][:300]}")
        return res.stdout

    def run(self, inputs: list[np.ndarray], outputs: list[np.ndarray], profile: bool):
        if self._tmp is None:
            raise DnnFusionError("session is closed")
        ins, outs = [], []
        for i, a in enumerate(inputs):
            f = self._tmp / f"in{i}.bin"
            a.tofile(f)
            ins.append(str(f))
        for i in range(len(outputs)):
            outs.append(str(self._tmp / f"out{i}.bin"))
        args = ["-t", str(self._threads_arg)] if self._threads_arg else []
        if profile:
            args.append("-p")
        text = self._call([*args, self._weights, *ins, *outs])
        for o, f in zip(outputs, outs, strict=True):
            data = np.fromfile(f, dtype=o.dtype)
            if data.size != o.size:
                raise DnnFusionError(f"model runner wrote {data.size} values, not {o.size}")
            o[...] = data.reshape(o.shape)
        if not profile:
            return []
        times = [0.0] * self.n_blocks
        for line in text.splitlines():
            parts = line.split()
            if len(parts) == 3 and parts[0] == "block":
                times[int(parts[1])] = float(parts[2])
        return times

    def close(self) -> None:
        if self._tmp is not None:
            shutil.rmtree(self._tmp, ignore_errors=True)
            self._tmp = None


def _model_error(line: str) -> ModelRuntimeError:
    """The runner's one-line report (``error: <message>``) as the typed error."""
    text = line.removeprefix("error: ")[:300]
    m = re.search(r" in block (-?[0-9]+) ", text)
    block = int(m.group(1)) if m else -1
    code = next((c for c in BY_CODE if message(c, block) == text), 0)
    return ModelRuntimeError(text, block=block, code=code)
