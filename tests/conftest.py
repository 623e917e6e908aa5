"""Shared pytest fixtures: where the real models are."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from tests.helpers.models import SHARED_MODELS_DIR
from tests.helpers.models import light_model_path as _light_model_path


@pytest.fixture(scope="session")
def shared_models_dir() -> Path:
    """``../shared/models`` (real ONNX models: PP-OCR detector and classifier)."""
    # A missing model folder is a broken checkout, not a reason to skip: fail loudly.
    assert SHARED_MODELS_DIR.is_dir(), f"shared models not found at {SHARED_MODELS_DIR}"
    return SHARED_MODELS_DIR


@pytest.fixture(scope="session")
def light_model_path() -> Callable[[str], str]:
    """``light_model_path("resnet50")`` -> path of the onnx package's ``light_resnet50.onnx``."""
    return _light_model_path
