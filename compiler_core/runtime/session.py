"""InferenceSession over a compiled artifact, with ONNX Runtime's interface.

Thread safety: a session owns one arena, so :meth:`InferenceSession.run` holds a lock; runs
from several threads are serialized. For parallel inference create one session per thread
(the weights are memory-mapped, so sessions share them through the page cache).
"""

from __future__ import annotations

import contextlib
import os
import threading
import weakref
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from compiler_core.errors import DnnFusionError
from compiler_core.runtime.archive import ExtractedArtifact, is_archive
from compiler_core.runtime.library import LibraryBackend
from compiler_core.runtime.manifest import (
    ArtifactError,
    TensorInfo,
    read_manifest,
    tensors,
    verify_files,
)
from compiler_core.runtime.qemu import RunnerBackend
from compiler_core.runtime.threads import resolve_threads
from compiler_core.target.targets import TARGETS

_ORT_TYPES = {
    "float32": "tensor(float)",
    "int64": "tensor(int64)",
    "int32": "tensor(int32)",
    "bool": "tensor(bool)",
    "uint8": "tensor(uint8)",
    "int8": "tensor(int8)",
    "float64": "tensor(double)",
    "float16": "tensor(float16)",
}


class InvalidArgument(DnnFusionError):
    """A bad ``run`` call: unknown or missing input or output name, wrong dtype or shape."""


@dataclass(frozen=True)
class NodeArg:
    """Like ``onnxruntime.NodeArg``: ``name``, ``shape`` (a list of ints), ``type``."""

    name: str
    shape: list[int]
    type: str


class InferenceSession:
    """Load an artifact produced by :func:`compiler_core.compile_model`: its directory, or the
    ``.tar.gz`` of :func:`compiler_core.compile.pack_artifact` (extracted safely to a temporary
    folder that :meth:`close` removes).

    ``verify``: check the sha256 of every file against the manifest (default on).
    ``threads``: OpenMP threads for each run (default ``$DNNFUSION_NUM_THREADS``, else OpenMP's
    default); see :mod:`compiler_core.runtime.threads`, also for the wait policy.
    A ``host`` artifact is loaded in-process; a ``linux-arm64`` one runs as a subprocess, under
    ``qemu-aarch64`` on other hosts (:mod:`compiler_core.runtime.qemu`).
    Raises :class:`ArtifactError` for a missing or corrupted file or a manifest of another
    schema version.
    """

    def __init__(
        self, artifact_path: str | os.PathLike, *, verify: bool = True, threads: int | None = None
    ) -> None:
        self._lock = threading.Lock()
        self._backend = None
        self._extracted: ExtractedArtifact | None = None
        n_threads = resolve_threads(threads)
        given = Path(artifact_path)
        if is_archive(given):
            self._extracted = ExtractedArtifact(given)
            self._cleanup = weakref.finalize(self, self._extracted.cleanup)
            path = self._extracted.path
        elif given.is_dir():
            path = given
        elif given.exists():
            raise ArtifactError(f"{given}: not an artifact directory or .tar.gz archive")
        else:
            raise ArtifactError(f"{given}: no such artifact")
        try:
            self._open(path, verify, n_threads)
        except BaseException:
            self.close()
            raise

    def _open(self, path: Path, verify: bool, n_threads: int) -> None:
        self._path = path
        m = read_manifest(self._path)
        self._manifest = m
        target = str(m.get("target", "host"))
        if target not in TARGETS:
            raise ArtifactError(f"{path}: artifact for unknown target {target!r}")
        tgt = TARGETS[target]
        self.target = tgt.name
        key = "library" if tgt.kind == "library" else "runner"
        binary = str(m.get(key) or "")
        self._weights_name = str(m.get("weights", "weights.bin"))
        for name in (binary, self._weights_name):
            if not name or "/" in name or name.startswith("."):
                raise ArtifactError(f"{self._path}: manifest names an unsafe file {name!r}")
        needed = [binary, self._weights_name]
        if verify:
            verify_files(self._path, m, needed)
        else:
            for name in needed:
                if not (self._path / name).is_file():
                    raise ArtifactError(f"{self._path}: missing file {name}")
        self._inputs = tensors(m, "inputs")
        self._outputs = tensors(m, "outputs")
        self.blocks: list[dict] = list(m.get("blocks", []))
        if tgt.kind == "library":
            self._backend = LibraryBackend(self._path, binary, self._weights_name, n_threads)
        else:
            self._backend = RunnerBackend(self._path, binary, self._weights_name, tgt, n_threads)
        self._n_blocks = self._backend.n_blocks

    @property
    def threads(self) -> int:
        """OpenMP threads each run uses."""
        return self._backend.threads if self._backend is not None else 0

    @property
    def artifact_dir(self) -> Path:
        """The artifact directory (a temporary one for an archive)."""
        return self._path

    # -- ONNX Runtime interface -----------------------------------------------------------
    def get_inputs(self) -> list[NodeArg]:
        return [_arg(t) for t in self._inputs]

    def get_outputs(self) -> list[NodeArg]:
        return [_arg(t) for t in self._outputs]

    def get_modelmeta(self) -> dict:
        return dict(self._manifest.get("model", {}))

    def run(
        self,
        output_names: Sequence[str] | None,
        input_feed: Mapping[str, np.ndarray],
        run_options=None,
    ) -> list[np.ndarray]:
        """Run the model; returns the requested outputs (all when ``output_names`` is None).

        Raises :class:`InvalidArgument` for a bad feed and
        :class:`~compiler_core.errors.ModelRuntimeError` when the compiled code stops with an
        error (e.g. an integer division by zero; the message names the block and operator)."""
        outs, _ = self._run(output_names, input_feed, profile=False)
        return outs

    def run_profiled(
        self, output_names: Sequence[str] | None, input_feed: Mapping[str, np.ndarray]
    ) -> tuple[list[np.ndarray], list[float]]:
        """Like :meth:`run`, also returns each kernel's time in microseconds."""
        return self._run(output_names, input_feed, profile=True)

    # -- internals ------------------------------------------------------------------------
    def _feeds(self, input_feed: Mapping[str, np.ndarray]) -> list[np.ndarray]:
        if not isinstance(input_feed, Mapping):
            raise InvalidArgument("input_feed must be a mapping from input name to array")
        known = {t.name for t in self._inputs}
        unknown = sorted(set(input_feed) - known)
        if unknown:
            raise InvalidArgument(
                f"unknown input name {unknown[0]!r}; expected {sorted(known)}"
            )
        arrays = []
        for t in self._inputs:
            if t.name not in input_feed:
                raise InvalidArgument(f"missing input {t.name!r}")
            a = np.asarray(input_feed[t.name])
            if a.dtype != np.dtype(t.dtype):
                raise InvalidArgument(
                    f"input {t.name!r}: dtype {_ort_type(a.dtype.name)} given, "
                    f"{_ort_type(t.dtype)} expected"
                )
            if tuple(a.shape) != t.shape:
                raise InvalidArgument(
                    f"input {t.name!r}: shape {list(a.shape)} given, {list(t.shape)} expected"
                )
            arrays.append(np.ascontiguousarray(a))
        return arrays

    def _run(self, output_names, input_feed, *, profile: bool):
        names = [t.name for t in self._outputs]
        wanted = list(names if output_names is None else output_names)
        for n in wanted:
            if n not in names:
                raise InvalidArgument(f"unknown output name {n!r}; expected {names}")
        arrays = self._feeds(input_feed)
        outs = [np.empty(t.shape, dtype=np.dtype(t.dtype)) for t in self._outputs]
        with self._lock:
            if self._backend is None:
                raise DnnFusionError("session is closed")
            times = self._backend.run(arrays, outs, profile)
        by_name = dict(zip(names, outs, strict=True))
        result = [by_name[n] for n in wanted]
        return result, times

    def close(self) -> None:
        """Free the arena (and the temporary folder of an archive). Idempotent."""
        with self._lock:
            if self._backend is not None:
                self._backend.close()
                self._backend = None
            if self._extracted is not None:
                self._cleanup()
                self._extracted = None

    def __enter__(self) -> InferenceSession:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def __del__(self) -> None:
        with contextlib.suppress(Exception):  # best effort at interpreter exit
            self.close()


def _ort_type(dtype: str) -> str:
    return _ORT_TYPES.get(dtype, f"tensor({dtype})")


def _arg(t: TensorInfo) -> NodeArg:
    return NodeArg(t.name, list(t.shape), _ort_type(t.dtype))
