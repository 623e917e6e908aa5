"""The in-process backend: a ``host`` artifact's model.so loaded with ctypes.

Calls are not thread-safe per handle (one arena); :class:`~compiler_core.runtime.InferenceSession`
serializes them. A run that the compiled code stops with an error (an integer division by
zero...) raises :class:`~compiler_core.errors.ModelRuntimeError` naming the block.

C entry points besides the run functions (see :mod:`compiler_core.codegen.generate`); the
newer ones are looked up with ``getattr`` so older libraries still load:

- ``dnf_set_num_threads(handle, n)`` / ``dnf_default_num_threads()``: thread control;
- ``dnf_error_block(handle)``: the block where the last run stopped with an error, else -1;
- ``dnf_set_trace(volatile int32_t* slot)``: process-wide; every run stores the index of the
  block about to run into ``*slot`` before each block and -1 after the last one (a run stopped
  by an error leaves that block's index; NULL: off). A parent process that shares the slot
  with a child running the model can say in which block the child crashed
  (:meth:`LibraryBackend.set_trace` sets it from Python).
"""

from __future__ import annotations

import ctypes
import tempfile
import uuid
from pathlib import Path

import numpy as np

from compiler_core.errors import DnnFusionError, ModelRuntimeError
from compiler_core.runtime.manifest import ArtifactError
from compiler_core.runtime.threads import configure_openmp
from compiler_core.target.abi import message
from compiler_core.target.blas import loading_openblas

ABI_VERSION = 1


def _load_fresh(file: Path) -> ctypes.CDLL:
    """dlopen ``file`` under a name never used before in this process.

    The dynamic loader returns an already loaded library when the *name* matches, even if the
    file at that path was replaced since (an artifact recompiled into the same directory would
    run the old code). A symlink with a unique name still lets the loader share a library whose
    file (device and inode) is already mapped, which is the same code.
    """
    with tempfile.TemporaryDirectory(prefix="dnf-lib-") as tmp:
        link = Path(tmp) / f"{uuid.uuid4().hex}{file.suffix}"
        link.symlink_to(file.resolve())
        return ctypes.CDLL(str(link))


class LibraryBackend:
    def __init__(self, path: Path, lib_name: str, weights_name: str, threads: int) -> None:
        configure_openmp()  # before libgomp is first loaded with the library
        try:
            with loading_openblas():  # OpenBLAS picks its kernel set when it loads
                lib = _load_fresh(path / lib_name)
        except OSError as e:
            raise ArtifactError(f"{path}: cannot load {lib_name}: {e}") from e
        self._lib = lib
        lib.dnf_abi_version.restype = ctypes.c_int
        if lib.dnf_abi_version() != ABI_VERSION:
            raise ArtifactError(f"{path}: library ABI version {lib.dnf_abi_version()} "
                                f"is not {ABI_VERSION}")
        lib.dnf_create.restype = ctypes.c_void_p
        lib.dnf_create.argtypes = [ctypes.c_char_p]
        lib.dnf_destroy.argtypes = [ctypes.c_void_p]
        lib.dnf_num_blocks.restype = ctypes.c_int
        for fn in (lib.dnf_run, lib.dnf_run_profiled):
            fn.restype = ctypes.c_int
        lib.dnf_run.argtypes = [ctypes.c_void_p, ctypes.c_void_p, ctypes.c_void_p]
        lib.dnf_run_profiled.argtypes = [ctypes.c_void_p] * 4
        weights = str((path / weights_name).resolve()).encode()
        handle = lib.dnf_create(weights)
        if not handle:
            raise ArtifactError(
                f"{path}: cannot map {weights_name} (wrong size or unreadable) or "
                "allocate the arena"
            )
        self._handle: ctypes.c_void_p | None = ctypes.c_void_p(handle)
        self.n_blocks = lib.dnf_num_blocks()
        self.threads = self._set_threads(threads)

    def _set_threads(self, threads: int) -> int:
        lib = self._lib
        setter = getattr(lib, "dnf_set_num_threads", None)
        default = getattr(lib, "dnf_default_num_threads", None)
        if setter is None or default is None:  # a library from before thread control
            if threads:
                raise ArtifactError("this artifact predates thread control; recompile it")
            return 0
        setter.restype = ctypes.c_int
        setter.argtypes = [ctypes.c_void_p, ctypes.c_int]
        default.restype = ctypes.c_int
        if setter(self._handle, threads) != 0:
            raise DnnFusionError(f"cannot set {threads} threads")
        return threads or int(default())

    def run(self, inputs: list[np.ndarray], outputs: list[np.ndarray], profile: bool):
        if self._handle is None:
            raise DnfClosed()
        in_ptrs = (ctypes.c_void_p * max(1, len(inputs)))(*[a.ctypes.data for a in inputs])
        out_ptrs = (ctypes.c_void_p * max(1, len(outputs)))(*[o.ctypes.data for o in outputs])
        times = (ctypes.c_double * max(1, self.n_blocks))()
        if profile:
            rc = self._lib.dnf_run_profiled(self._handle, in_ptrs, out_ptrs, times)
        else:
            rc = self._lib.dnf_run(self._handle, in_ptrs, out_ptrs)
        if rc != 0:
            raise self._error(rc)
        return [float(times[i]) for i in range(self.n_blocks)] if profile else []

    def _error(self, rc: int) -> DnnFusionError:
        if rc == 1:
            return DnnFusionError("model run failed (bad argument to the library)")
        where = getattr(self._lib, "dnf_error_block", None)
        block = -1
        if where is not None:
            where.restype = ctypes.c_int
            where.argtypes = [ctypes.c_void_p]
            block = int(where(self._handle))
        return ModelRuntimeError(message(rc, block), block=block, code=rc)

    def set_trace(self, slot: ctypes.c_int32 | None) -> bool:
        """Point the library's block trace at ``slot`` (a ``ctypes.c_int32``, e.g. in shared
        memory; it must outlive the runs) or turn it off with ``None``. Returns False for a
        library from before the trace."""
        fn = getattr(self._lib, "dnf_set_trace", None)
        if fn is None:
            return False
        fn.restype = None
        fn.argtypes = [ctypes.c_void_p]
        fn(None if slot is None else ctypes.addressof(slot))
        return True

    def close(self) -> None:
        if self._handle is not None:
            self._lib.dnf_destroy(self._handle)
            self._handle = None


class DnfClosed(DnnFusionError):
    def __init__(self) -> None:
        super().__init__("session is closed")
