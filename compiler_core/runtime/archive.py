"""Artifacts as ``.tar.gz``: packing (atomic) and safe extraction for the runtime.

An archive holds the artifact's files either at its root or under one top-level folder (what
:func:`pack_artifact` writes, and what the service's downloads hold). Extraction refuses absolute
paths, ``..``, links, devices and any member that is not a regular file or a folder, nested
folders, more than :data:`MAX_MEMBERS` members and more than ``max_bytes`` uncompressed.
"""

from __future__ import annotations

import os
import shutil
import tarfile
import tempfile
from pathlib import Path, PurePosixPath

from compiler_core.runtime.manifest import MANIFEST, ArtifactError

MAX_MEMBERS = 64
DEFAULT_MAX_BYTES = 16 << 30  # 16 GiB uncompressed
_CHUNK = 1 << 20


def is_archive(path: Path) -> bool:
    """A file starting with the gzip magic (a directory never is)."""
    if not path.is_file():
        return False
    with open(path, "rb") as f:
        return f.read(2) == b"\x1f\x8b"


def pack_artifact(artifact_dir: str | os.PathLike, out: str | os.PathLike | None = None) -> Path:
    """Write ``artifact_dir`` as a ``.tar.gz`` (default: ``<artifact_dir>.tar.gz``), its files
    under a folder named like the artifact. Written to a temporary name and renamed, so a
    reader never sees a partial archive. Returns the archive path."""
    src = Path(artifact_dir)
    if not (src / MANIFEST).is_file():
        raise ArtifactError(f"{src}: no {MANIFEST} (not a dnnfusion artifact)")
    dst = Path(out) if out is not None else src.with_name(src.name + ".tar.gz")
    dst.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(dir=dst.parent, prefix=f".{dst.name}.", suffix=".tmp")
    tmp = Path(tmp_name)
    try:
        with os.fdopen(fd, "wb") as raw, tarfile.open(fileobj=raw, mode="w:gz") as tar:
            for f in sorted(p for p in src.iterdir() if p.is_file() and not p.is_symlink()):
                info = tar.gettarinfo(str(f), arcname=f"{src.name}/{f.name}")
                info.uid = info.gid = 0
                info.uname = info.gname = ""
                with open(f, "rb") as fh:
                    tar.addfile(info, fh)
        os.chmod(tmp, 0o644)
        os.replace(tmp, dst)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return dst


def _member_path(name: str) -> PurePosixPath:
    if not name or "\x00" in name or "\\" in name:
        raise ArtifactError(f"archive member {name!r}: invalid name")
    if name.startswith("/"):
        raise ArtifactError(f"archive member {name!r}: absolute paths are not allowed")
    parts = [p for p in name.split("/") if p not in ("", ".")]
    if ".." in parts:
        raise ArtifactError(f"archive member {name!r}: '..' is not allowed")
    if not parts or len(parts) > 2:
        raise ArtifactError(f"archive member {name!r}: not an artifact file")
    return PurePosixPath(*parts)


def extract_artifact(archive: Path, dest: Path, *, max_bytes: int = DEFAULT_MAX_BYTES) -> Path:
    """Extract ``archive`` into the empty folder ``dest``; returns the folder holding the
    manifest (``dest`` or its single subfolder). Raises :class:`ArtifactError`."""
    total = 0
    members = 0
    seen: set[PurePosixPath] = set()
    try:
        with tarfile.open(archive, mode="r:gz") as tar:
            for m in tar:  # streamed: stops at the first bad member
                members += 1
                if members > MAX_MEMBERS:
                    raise ArtifactError(f"{archive}: more than {MAX_MEMBERS} members")
                rel = _member_path(m.name)
                if rel in seen:
                    raise ArtifactError(f"{archive}: member {m.name!r} appears twice")
                seen.add(rel)
                target = dest.joinpath(*rel.parts)
                if m.isdir():
                    if len(rel.parts) != 1:
                        raise ArtifactError(f"{archive}: nested folder {m.name!r}")
                    target.mkdir(exist_ok=True)
                    continue
                if not m.isreg():
                    raise ArtifactError(
                        f"{archive}: member {m.name!r} is a link or special file (refused)"
                    )
                target.parent.mkdir(exist_ok=True)
                src = tar.extractfile(m)
                assert src is not None
                with src, open(target, "xb") as out:
                    while chunk := src.read(_CHUNK):
                        total += len(chunk)
                        if total > max_bytes:
                            raise ArtifactError(
                                f"{archive}: more than {max_bytes} bytes uncompressed"
                            )
                        out.write(chunk)
                os.chmod(target, 0o755 if m.mode & 0o100 else 0o644)
    except (tarfile.TarError, EOFError, OSError) as e:
        raise ArtifactError(f"{archive}: not a readable .tar.gz artifact ({e})") from e
    if (dest / MANIFEST).is_file():
        return dest
    subdirs = [p for p in dest.iterdir() if p.is_dir()]
    if len(subdirs) == 1 and (subdirs[0] / MANIFEST).is_file():
        return subdirs[0]
    raise ArtifactError(f"{archive}: no {MANIFEST} in the archive (not a dnnfusion artifact)")


class ExtractedArtifact:
    """A temporary folder holding an extracted archive; removed by :meth:`cleanup`."""

    def __init__(self, archive: Path) -> None:
        self._root = Path(tempfile.mkdtemp(prefix="dnnfusion-artifact-"))
        try:
            self.path = extract_artifact(archive, self._root)
        except BaseException:
            self.cleanup()
            raise

    def cleanup(self) -> None:
        shutil.rmtree(self._root, ignore_errors=True)
