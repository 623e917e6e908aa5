"""The artifact's manifest.json: what the runtime needs to load and check an artifact."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path

from compiler_core.errors import DnnFusionError

MANIFEST_SCHEMA_VERSION = 1
FORMAT = "dnnfusion-artifact"
MANIFEST = "manifest.json"


class ArtifactError(DnnFusionError):
    """The artifact directory is missing a file, a file is corrupted, or the manifest has
    another schema version."""


@dataclass(frozen=True)
class TensorInfo:
    name: str
    dtype: str  # numpy dtype name
    shape: tuple[int, ...]


def sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def read_manifest(artifact: Path) -> dict:
    path = artifact / MANIFEST
    if not path.is_file():
        raise ArtifactError(f"{artifact}: no {MANIFEST} (not a dnnfusion artifact)")
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError) as e:
        raise ArtifactError(f"{path}: unreadable manifest ({e})") from e
    if not isinstance(data, dict) or data.get("format") != FORMAT:
        raise ArtifactError(f"{path}: not a dnnfusion artifact manifest")
    if data.get("schema_version") != MANIFEST_SCHEMA_VERSION:
        raise ArtifactError(
            f"{path}: manifest schema_version {data.get('schema_version')!r} is not supported "
            f"(this runtime reads {MANIFEST_SCHEMA_VERSION}); recompile the model"
        )
    return data


def verify_files(artifact: Path, manifest: dict, names: list[str]) -> None:
    """Every listed file exists and has the sha256 the manifest records."""
    files = manifest.get("files") or {}
    for name in names:
        path = artifact / name
        if name not in files:
            raise ArtifactError(f"{artifact}: manifest lists no checksum for {name}")
        if not path.is_file():
            raise ArtifactError(f"{artifact}: missing file {name}")
        if sha256_file(path) != files[name]:
            raise ArtifactError(f"{path}: checksum mismatch (file corrupted or modified)")


def tensors(manifest: dict, key: str) -> list[TensorInfo]:
    try:
        return [
            TensorInfo(str(t["name"]), str(t["dtype"]), tuple(int(d) for d in t["shape"]))
            for t in manifest[key]
        ]
    except (KeyError, TypeError, ValueError) as e:
        raise ArtifactError(f"manifest field {key!r} is malformed") from e
