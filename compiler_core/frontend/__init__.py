"""ONNX import frontend: file or ModelProto -> statically shaped, folded ``onnx_ir`` model.

See :func:`import_model`; the steps live in ``load``, ``validate``, ``opset``, ``shapes`` and
``fold``, chained in ``importer``. The package itself imports nothing, so the service can use
the safe loader (``compiler_core.frontend.load``: onnx only) without loading the importer's
``onnx_ir``/``onnxscript`` stack.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from compiler_core.frontend.importer import ImportedModel, import_model

__all__ = ["ImportedModel", "import_model"]


def __getattr__(name: str):
    if name in __all__:
        from compiler_core.frontend import importer

        return getattr(importer, name)
    raise AttributeError(name)
