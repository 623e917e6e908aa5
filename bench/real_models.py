"""Where the real (trained) ONNX models are: the PP-OCR detector and classifier.

Looked up per file, first found wins:

1. ``$DNNFUSION_MODELS_DIR`` (also the older name ``$DNNFUSION_SHARED_MODELS``), when set;
2. ``<repo>/models`` (the copies shipped with the repository; source and licence in its README);
3. ``<repo>/../shared/models`` (the team's shared folder, when it sits beside the clone).

Every candidate holding the file is equally good: the file is checked against the sha256 in
:data:`SHA256`, so a stale or corrupted copy is skipped rather than used.
"""

from __future__ import annotations

import functools
import hashlib
import os
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent

SHA256 = {
    "ppocr_v4_det.onnx": "d2a7720d45a54257208b1e13e36a8479894cb74155a5efe29462512d42f49da9",
    "ppocr_mobile_v2_cls.onnx": "e47acedf663230f8863ff1ab0e64dd2d82b838fceb5957146dab185a89d6215c",
}


class RealModelMissing(FileNotFoundError):
    """No candidate folder holds an intact copy of the model (message lists where it looked)."""


def candidate_dirs() -> list[Path]:
    """The folders searched, in order (see the module docstring)."""
    env = [os.environ.get(k) for k in ("DNNFUSION_MODELS_DIR", "DNNFUSION_SHARED_MODELS")]
    return [
        *(Path(e) for e in env if e),
        REPO_ROOT / "models",
        REPO_ROOT.parent / "shared" / "models",
    ]


@functools.cache
def _intact(path: Path) -> bool:
    want = SHA256.get(path.name)
    if want is None:
        return path.is_file()
    if not path.is_file():
        return False
    digest = hashlib.sha256()
    with path.open("rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest() == want


def real_model_path(file: str) -> Path:
    """Path of an intact copy of ``file`` (e.g. ``"ppocr_v4_det.onnx"``).

    Raises :class:`RealModelMissing` naming every folder searched.
    """
    dirs = candidate_dirs()
    for d in dirs:
        if _intact(d / file):
            return d / file
    raise RealModelMissing(
        f"{file}: no intact copy in {', '.join(str(d) for d in dirs)} (sha256 checked)"
    )


def real_models_dir() -> Path:
    """The first folder holding intact copies of every model in :data:`SHA256`."""
    dirs = candidate_dirs()
    for d in dirs:
        if all(_intact(d / f) for f in SHA256):
            return d
    raise RealModelMissing(f"the real models are in none of {', '.join(str(d) for d in dirs)}")
