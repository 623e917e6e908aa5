"""InferenceSession over a compiled artifact, with ONNX Runtime's interface.

Thread safety: a session owns one arena, so :meth:`InferenceSession.run` holds a lock; runs
from several threads are serialized. For parallel inference create one session per thread
(the weights are memory-mapped, so sessions share them through the page cache).
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import threading
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from compiler_core.errors import DnnFusionError
from compiler_core.runtime.manifest import (
    ArtifactError,
    TensorInfo,
    read_manifest,
    tensors,
    verify_files,
)

ABI_VERSION = 1

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
    """Load an artifact directory produced by :func:`compiler_core.compile_model`.

    ``verify``: check the sha256 of every file against the manifest (default on).
    Raises :class:`ArtifactError` for a missing or corrupted file or a manifest of another
    schema version.
    """

    def __init__(self, artifact_path: str | os.PathLike, *, verify: bool = True) -> None:
        self._path = Path(artifact_path)
        m = read_manifest(self._path)
        self._manifest = m
        self._lib_name = str(m.get("library", "model.so"))
        self._weights_name = str(m.get("weights", "weights.bin"))
        for name in (self._lib_name, self._weights_name):
            if "/" in name or name.startswith("."):
                raise ArtifactError(f"{self._path}: manifest names an unsafe file {name!r}")
        needed = [self._lib_name, self._weights_name]
        if verify:
            verify_files(self._path, m, needed)
        else:
            for name in needed:
                if not (self._path / name).is_file():
                    raise ArtifactError(f"{self._path}: missing file {name}")
        self._inputs = tensors(m, "inputs")
        self._outputs = tensors(m, "outputs")
        self.blocks: list[dict] = list(m.get("blocks", []))
        try:
            lib = ctypes.CDLL(str((self._path / self._lib_name).resolve()))
        except OSError as e:
            raise ArtifactError(f"{self._path}: cannot load {self._lib_name}: {e}") from e
        self._lib = lib
        lib.dnf_abi_version.restype = ctypes.c_int
        if lib.dnf_abi_version() != ABI_VERSION:
            raise ArtifactError(f"{self._path}: library ABI version {lib.dnf_abi_version()} "
                                f"is not {ABI_VERSION}")
        lib.dnf_create.restype = ctypes.c_void_p
        lib.dnf_create.argtypes = [ctypes.c_char_p]
        lib.dnf_destroy.argtypes = [ctypes.c_void_p]
        lib.dnf_num_blocks.restype = ctypes.c_int
        for fn in (lib.dnf_run, lib.dnf_run_profiled):
            fn.restype = ctypes.c_int
        lib.dnf_run.argtypes = [ctypes.c_void_p, ctypes.c_void_p, ctypes.c_void_p]
        lib.dnf_run_profiled.argtypes = [ctypes.c_void_p] * 4
        weights = str((self._path / self._weights_name).resolve()).encode()
        handle = lib.dnf_create(weights)
        if not handle:
            raise ArtifactError(
                f"{self._path}: cannot map {self._weights_name} (wrong size or unreadable) or "
                "allocate the arena"
            )
        self._handle = ctypes.c_void_p(handle)
        self._lock = threading.Lock()
        self._n_blocks = lib.dnf_num_blocks()

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
        """Run the model; returns the requested outputs (all when ``output_names`` is None)."""
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
        in_ptrs = (ctypes.c_void_p * max(1, len(arrays)))(*[a.ctypes.data for a in arrays])
        out_ptrs = (ctypes.c_void_p * max(1, len(outs)))(*[o.ctypes.data for o in outs])
        times = (ctypes.c_double * max(1, self._n_blocks))()
        with self._lock:
            if self._handle is None:
                raise DnnFusionError("session is closed")
            if profile:
                rc = self._lib.dnf_run_profiled(self._handle, in_ptrs, out_ptrs, times)
            else:
                rc = self._lib.dnf_run(self._handle, in_ptrs, out_ptrs)
        if rc != 0:
            raise DnnFusionError(f"model run failed (code {rc})")
        by_name = dict(zip(names, outs, strict=True))
        result = [by_name[n] for n in wanted]
        return result, [float(times[i]) for i in range(self._n_blocks)]

    def close(self) -> None:
        with self._lock:
            if self._handle is not None:
                self._lib.dnf_destroy(self._handle)
                self._handle = None

    def __del__(self) -> None:
        with contextlib.suppress(Exception):  # best effort at interpreter exit
            self.close()


def _ort_type(dtype: str) -> str:
    return _ORT_TYPES.get(dtype, f"tensor({dtype})")


def _arg(t: TensorInfo) -> NodeArg:
    return NodeArg(t.name, list(t.shape), _ort_type(t.dtype))
