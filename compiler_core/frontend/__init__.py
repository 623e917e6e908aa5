"""ONNX import frontend: file or ModelProto -> statically shaped, folded ``onnx_ir`` model.

See :func:`import_model`; the steps live in ``load``, ``validate``, ``opset``, ``shapes`` and
``fold``, chained in ``importer``.
"""

from compiler_core.frontend.importer import ImportedModel, import_model

__all__ = ["ImportedModel", "import_model"]
