"""Reusable test helpers (ONNX Runtime reference runs, model builders)."""
