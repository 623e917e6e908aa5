"""Turning the compiler's artifact directory into what the service stores."""

from __future__ import annotations

import hashlib
import json
import math
import tarfile
import uuid
from pathlib import Path
from typing import Any

from dnfstore.storage import Storage, artifact_key, report_key

SUMMARY_FIELDS = {
    "original_nodes": int,
    "fused_blocks": int,
    "max_abs_error": float,
    "latency_ms": float,
    "ort_latency_ms": float,
}


def read_summary(report: dict[str, Any]) -> dict[str, Any]:
    """The summary numbers of a report.json; a missing or non-numeric value becomes None."""
    out: dict[str, Any] = {}
    for name, kind in SUMMARY_FIELDS.items():
        value = report.get(name)
        try:
            number = kind(value) if value is not None and not isinstance(value, bool) else None
        except (TypeError, ValueError):
            number = None
        if isinstance(number, float) and not math.isfinite(number):
            number = None
        out[name] = number
    return out


def store_artifact(
    storage: Storage, artifact_dir: Path, compilation_id: uuid.UUID
) -> tuple[str, str, dict[str, Any], int, str]:
    """Pack ``artifact_dir`` as a .tar.gz in this host's tmp/ and store it, and a copy of its
    report.json, as the job's ``artifact.tar.gz`` and ``report.json`` (renamed into place
    locally, uploaded to S3: multipart when large). Returns (artifact key, report key, report
    dict, tarball bytes, tarball sha256); raises ``StoreUnavailable`` when the store fails
    (no temp file is left either way)."""
    report_src = artifact_dir / "report.json"
    report = json.loads(report_src.read_text()) if report_src.is_file() else {}

    tmp_tar = storage.new_tmp_file(".tar.gz")
    tmp_report = storage.new_tmp_file(".json")
    try:
        with tarfile.open(tmp_tar, "w:gz") as tar:
            tar.add(artifact_dir, arcname="artifact")
        sha = hashlib.sha256()
        with open(tmp_tar, "rb") as f:
            while chunk := f.read(1 << 20):
                sha.update(chunk)
        size = tmp_tar.stat().st_size
        tmp_report.write_text(json.dumps(report, indent=2))
        tarball, report_path = artifact_key(compilation_id), report_key(compilation_id)
        storage.objects.put_file(tmp_tar, tarball)
        storage.objects.put_file(tmp_report, report_path)
    finally:
        storage.discard(tmp_tar)
        storage.discard(tmp_report)
    return tarball, report_path, report, size, sha.hexdigest()
