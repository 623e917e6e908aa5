"""Shared pytest fixtures: where the real models are. Strict rule mode for the whole suite."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.helpers.models import REAL_MODELS_DIR
from tests.helpers.models import light_model_path as _light_model_path

# Under test an exception inside a rewrite rule is an error naming the rule and the node, not a
# silent "rule error" refusal (compiler_core.passes.rule). Set before any test runs so the
# processes the tests start (CLI, API, worker, sandbox) inherit it; a test may unset it.
os.environ["DNNFUSION_STRICT_RULES"] = "1"


@pytest.fixture(scope="session")
def real_models_dir() -> Path:
    """The folder of the real ONNX models (PP-OCR detector and classifier): the repository's
    ``models/`` unless ``$DNNFUSION_MODELS_DIR`` names another (``bench.real_models``).

    A missing or corrupted copy is a broken checkout, not a reason to skip: importing
    ``tests.helpers.models`` already failed loudly with the folders searched."""
    return REAL_MODELS_DIR


@pytest.fixture(scope="session")
def light_model_path() -> Callable[[str], str]:
    """``light_model_path("resnet50")`` -> path of the onnx package's ``light_resnet50.onnx``."""
    return _light_model_path


# Folders whose every test is slow: each case compiles an operator variant for three ISAs and
# compares it with ONNX Runtime (measured 1.4-3 s a case on a loaded 2-core machine, up to 18 s).
SLOW_FOLDERS = ("compiler_core/ops_coverage",)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Browser tests (headless Chromium against a served app) and the operator-coverage
    compiles are slow tests too: the fast lane, ``pytest -m "not slow"``, leaves them to the
    full suite."""
    here = Path(__file__).parent
    folders = [here / f for f in SLOW_FOLDERS]
    for item in items:
        in_slow_folder = any(item.path.is_relative_to(f) for f in folders)
        if in_slow_folder or item.get_closest_marker("browser") is not None:
            item.add_marker(pytest.mark.slow)
