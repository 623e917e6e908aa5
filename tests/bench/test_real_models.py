"""The real models ship with the repository and are found without ``../shared``."""

from __future__ import annotations

import hashlib

import onnx
import pytest

from bench import real_models
from bench.real_models import REPO_ROOT, SHA256, RealModelMissing, real_model_path


@pytest.mark.parametrize("file", sorted(SHA256))
def test_repository_copy_is_intact(file):
    path = REPO_ROOT / "models" / file
    assert hashlib.sha256(path.read_bytes()).hexdigest() == SHA256[file]
    onnx.checker.check_model(onnx.load(path))


def test_found_without_shared_folder(monkeypatch, tmp_path):
    # Only the repository's copy is a candidate: ../shared is not needed.
    monkeypatch.setattr(real_models, "candidate_dirs", lambda: [REPO_ROOT / "models"])
    assert real_model_path("ppocr_v4_det.onnx") == REPO_ROOT / "models" / "ppocr_v4_det.onnx"


def test_env_folder_wins_and_corrupt_copies_are_skipped(monkeypatch, tmp_path):
    good = tmp_path / "good"
    bad = tmp_path / "bad"
    good.mkdir()
    bad.mkdir()
    data = (REPO_ROOT / "models" / "ppocr_mobile_v2_cls.onnx").read_bytes()
    (good / "ppocr_mobile_v2_cls.onnx").write_bytes(data)
    (bad / "ppocr_mobile_v2_cls.onnx").write_bytes(data[:-1])  # truncated: wrong sha256
    monkeypatch.setenv("DNNFUSION_MODELS_DIR", str(bad))
    monkeypatch.setenv("DNNFUSION_SHARED_MODELS", str(good))
    assert real_model_path("ppocr_mobile_v2_cls.onnx") == good / "ppocr_mobile_v2_cls.onnx"


def test_missing_everywhere_names_the_folders(monkeypatch, tmp_path):
    monkeypatch.setattr(real_models, "candidate_dirs", lambda: [tmp_path])
    with pytest.raises(RealModelMissing, match=str(tmp_path)):
        real_model_path("ppocr_v4_det.onnx")
