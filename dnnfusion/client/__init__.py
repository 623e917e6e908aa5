"""Python client of the dnnfusion compilation service (``pip install 'dnnfusion[client]'``).

::

    from dnnfusion.client import Client

    with Client("http://127.0.0.1:8000", api_key="...") as client:
        model = client.upload_model("model.onnx")  # or a folder / .onnx with external data
        job = client.compile(model, input_shapes={"x": (1, 3, 640, 640)}, target="host")
        job.wait(timeout=1800, on_progress=lambda s: print(s.state, s.stage))
        job.download("model.tar.gz")
        report = job.report()

Errors are typed (:mod:`dnnfusion.client.errors`), all under :class:`DnnfusionError`.
"""

from dnnfusion.client.client import Client, Model
from dnnfusion.client.errors import (
    AuthenticationError,
    CompilationFailedError,
    ConflictError,
    DnnfusionError,
    InvalidModelError,
    NotFoundError,
    QuotaExceededError,
    ServerError,
    ServerUnreachableError,
    WaitTimeoutError,
)
from dnnfusion.client.job import CompilationStatus, CompileJob
from dnnfusion.client.retry import OutcomeUnknownError, RetryPolicy

__all__ = [
    "AuthenticationError",
    "Client",
    "CompilationFailedError",
    "CompilationStatus",
    "CompileJob",
    "ConflictError",
    "DnnfusionError",
    "InvalidModelError",
    "Model",
    "NotFoundError",
    "OutcomeUnknownError",
    "QuotaExceededError",
    "RetryPolicy",
    "ServerError",
    "ServerUnreachableError",
    "WaitTimeoutError",
]
