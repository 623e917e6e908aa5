"""Typed errors of the compiler core.

Every error carries a one-line message that names what is wrong (file, node, operator, tensor,
shape or field). The command line prints ``error: <message>`` and exits with code 2 for any
:class:`DnnFusionError`; the service maps them to 4xx responses.
"""

from __future__ import annotations


class DnnFusionError(Exception):
    """Base class of every error the compiler raises on bad input.

    ``str(err)`` is a single line meant for a user.
    """

    def __init__(self, message: str) -> None:
        super().__init__(" ".join(str(message).split()))


class ModelLoadError(DnnFusionError):
    """The file is missing, not ONNX, truncated, or its external data cannot be read safely."""


class ModelValidationError(DnnFusionError):
    """The graph fails the ONNX checker, has a cycle, or uses an opset outside 9..21."""


class UnsupportedOperatorError(DnnFusionError):
    """An operator from an unknown domain, or an operator/attribute the compiler cannot handle."""


class ShapeError(DnnFusionError):
    """A dynamic dimension left unpinned, a pinned shape that contradicts the model, or a tensor
    whose shape or dtype cannot be resolved statically."""


class ResourceLimitError(DnnFusionError):
    """The model would exceed a configured limit (memory, size, time)."""


class ArtifactCrashError(DnnFusionError):
    """Compiled code (or ONNX Runtime computing the reference) died while it ran in the
    validation sandbox: a signal (SIGFPE, SIGSEGV, SIGABRT...) or an abnormal exit. The message
    names the signal, the phase and, when the library reports it, the block and its operators."""


class SandboxLimitError(ResourceLimitError):
    """The validation sandbox hit one of its limits: wall-clock timeout, CPU time or address
    space (see :mod:`compiler_core.runtime.sandbox`)."""


class ReferenceRuntimeError(DnnFusionError):
    """ONNX Runtime refused to run the original model while computing the reference outputs
    (e.g. an integer division by zero)."""


class ModelRuntimeError(DnnFusionError):
    """The compiled model reported an error while it ran, e.g. an integer division by zero
    (see :mod:`compiler_core.target.abi`). ``block``: index of the fused block that
    stopped (-1 when unknown); ``code``: the C entry point's return code."""

    def __init__(self, message: str, *, block: int = -1, code: int = 0) -> None:
        super().__init__(message)
        self.block = block
        self.code = code
