"""The storage directory: uploaded models and compilation artifacts.

Layout under the root (one filesystem, so renames are atomic)::

    tmp/                    uploads in progress and staging directories
    models/<model id>/      the stored model: the .onnx and its external data
    compilations/<job id>/  artifact.tar.gz, report.json, work/ (the compiler's output dir)

Everything becomes visible under its final name by a rename, never by writing in place, so a
crash or a refused upload leaves at most a stray entry in tmp/ and never a half-written model.
"""

from __future__ import annotations

import os
import shutil
import tempfile
import uuid
from pathlib import Path


class Storage:
    def __init__(self, root: Path) -> None:
        self.root = Path(root).absolute()

    @property
    def tmp_dir(self) -> Path:
        path = self.root / "tmp"
        path.mkdir(parents=True, exist_ok=True)
        return path

    def new_tmp_file(self, suffix: str = "") -> Path:
        """A fresh empty file under tmp/ (the caller moves or deletes it)."""
        fd, name = tempfile.mkstemp(dir=self.tmp_dir, suffix=suffix)
        os.close(fd)
        return Path(name)

    def new_staging_dir(self) -> Path:
        return Path(tempfile.mkdtemp(dir=self.tmp_dir, prefix="stage-"))

    def model_dir(self, model_id: uuid.UUID) -> Path:
        return self.root / "models" / str(model_id)

    def compilation_dir(self, compilation_id: uuid.UUID) -> Path:
        path = self.root / "compilations" / str(compilation_id)
        path.mkdir(parents=True, exist_ok=True)
        return path

    def relative(self, path: Path) -> str:
        return Path(path).absolute().relative_to(self.root).as_posix()

    def resolve(self, relative: str) -> Path:
        """A stored relative path back to an absolute one, refusing anything outside the root."""
        path = (self.root / relative).resolve()
        if not path.is_relative_to(self.root.resolve()):
            raise ValueError(f"stored path {relative!r} leaves the storage directory")
        return path

    def publish_dir(self, staging: Path, final: Path) -> None:
        """Rename a finished staging directory to its final name; never replaces one."""
        final.parent.mkdir(parents=True, exist_ok=True)
        os.rename(staging, final)  # fails if ``final`` exists and is not empty

    def publish_file(self, tmp: Path, final: Path) -> None:
        """Atomically put ``tmp`` in place as ``final`` (same filesystem)."""
        final.parent.mkdir(parents=True, exist_ok=True)
        with open(tmp, "rb") as f:
            os.fsync(f.fileno())
        os.replace(tmp, final)

    @staticmethod
    def discard(path: Path | None) -> None:
        if path is None:
            return
        if path.is_dir() and not path.is_symlink():
            shutil.rmtree(path, ignore_errors=True)
        else:
            path.unlink(missing_ok=True)
