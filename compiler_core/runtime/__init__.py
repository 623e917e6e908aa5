"""Loading and running compiled artifacts (see :class:`InferenceSession`)."""

from compiler_core.runtime.manifest import MANIFEST_SCHEMA_VERSION, ArtifactError
from compiler_core.runtime.session import InferenceSession, InvalidArgument, NodeArg

__all__ = [
    "MANIFEST_SCHEMA_VERSION",
    "ArtifactError",
    "InferenceSession",
    "InvalidArgument",
    "NodeArg",
]
