"""dnnfusion compiler core: ONNX → ECG → rewriting → fusion plan → code → artifact.

Public entry points: :func:`plan_model`. Imports nothing from the service side.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from compiler_core.compile import compile_model
    from compiler_core.pipeline import plan_model

__all__ = ["compile_model", "plan_model"]


def __getattr__(name: str):
    # Lazy so that `import compiler_core.errors` stays cheap (no onnx import).
    if name == "plan_model":
        from compiler_core.pipeline import plan_model

        return plan_model
    if name == "compile_model":
        from compiler_core.compile import compile_model

        return compile_model
    raise AttributeError(name)
