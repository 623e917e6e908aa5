"""Loading and running compiled artifacts (see :class:`InferenceSession`).

- ``session``: the ONNX-Runtime-like session (directory or ``.tar.gz``; ``threads=``)
- ``library``: host artifacts, model.so loaded in-process with ctypes
- ``qemu``: runner artifacts (``linux-arm64``), a subprocess, under qemu-aarch64 off-target
- ``archive``: packing to ``.tar.gz`` and safe extraction
- ``sandbox``: running an artifact (load check, comparison with ONNX Runtime) in a child
  process under limits (``sandbox_child``), as compile_model does; crashes become errors
- ``threads``: thread count and the OpenMP wait policy (set before libgomp loads)
- ``manifest``: manifest.json reading and checksums

A run the compiled code stops with an error (an integer division by zero, or of the minimum
by -1) raises :class:`~compiler_core.errors.ModelRuntimeError` ("the compiled model divided
by zero in block 3 (Div)"; ``.block``, ``.code``), from either backend.

C entry points of a host ``model.so`` (ABI version 1; see
:mod:`compiler_core.codegen.generate`): ``dnf_abi_version``, ``dnf_num_blocks``,
``dnf_create(weights_path)``, ``dnf_run(h, in, out)`` and ``dnf_run_profiled(h, in, out,
block_us)`` (0 ok, 1 bad argument, else a run-time error code of
:mod:`compiler_core.target.abi`), ``dnf_error_block(h)``, ``dnf_set_num_threads(h, n)``,
``dnf_default_num_threads()``, ``dnf_destroy(h)`` and ``dnf_set_trace(volatile int32_t*
slot)``: process-wide, each run then stores the index of the block about to run into
``*slot`` before each block and -1 after the last one (an error leaves the failing block's
index); NULL turns it off. A supervisor that runs the model in a child process with the slot
in shared memory names the block a crash happened in. Entry points added after the first
release (``dnf_set_num_threads``, ``dnf_error_block``, ``dnf_set_trace``) are looked up with
``getattr``, so older libraries still load.
"""

from compiler_core.runtime.manifest import MANIFEST_SCHEMA_VERSION, ArtifactError
from compiler_core.runtime.session import InferenceSession, InvalidArgument, NodeArg

__all__ = [
    "MANIFEST_SCHEMA_VERSION",
    "ArtifactError",
    "InferenceSession",
    "InvalidArgument",
    "NodeArg",
]
