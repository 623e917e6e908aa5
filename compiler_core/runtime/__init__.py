"""Loading and running compiled artifacts (see :class:`InferenceSession`).

- ``session``: the ONNX-Runtime-like session (directory or ``.tar.gz``; ``threads=``)
- ``library``: host artifacts, model.so loaded in-process with ctypes
- ``qemu``: runner artifacts (``linux-arm64``), a subprocess, under qemu-aarch64 off-target
- ``archive``: packing to ``.tar.gz`` and safe extraction
- ``threads``: thread count and the OpenMP wait policy (set before libgomp loads)
- ``manifest``: manifest.json reading and checksums
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
