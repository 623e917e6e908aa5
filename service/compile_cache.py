"""The compile cache: answering a compilation request with an earlier identical one.

Two requests are identical when :func:`cache_key` gives the same key: the sha256 of a canonical
JSON text of the model's bytes (its upload's sha256), the pinned input shapes, the target, the
options as the worker resolves them (every compiler default filled in, the service's
``compare_with_onnxruntime`` default), the requested device class, and the compiler's version
(the ``dnnfusion`` package version and :data:`compiler_core.version.CODEGEN_VERSION`, both read
at call time). An earlier compilation is reused (:func:`find_reusable`) when it succeeded, has
this key, belongs to the requester or to a user who shares the cache (``users.share_cache``),
and the profiling data of the class whose numbers decided its plan has not changed since it
was planned (:func:`dnfstore.compile_cache.profile_fingerprint`; the worker records it).

:func:`record_cache_hit` is called once per hit (a log event on ``dnnfusion.cache``); wrap it
to count hits.
"""

from __future__ import annotations

import hashlib
import importlib.metadata
import json
import logging
import uuid
from typing import Any

from sqlalchemy.orm import Session

import compiler_core.version
from dnfstore import compile_cache as store
from dnfstore.models import Compilation
from service.schemas.compilations import CompilationCreate
from service.schemas.compile_options import CompileOptions

log = logging.getLogger("dnnfusion.cache")


def compiler_version() -> str:
    """``"<package version>+codegen<CODEGEN_VERSION>"``, e.g. ``0.1.0+codegen1``."""
    try:
        package = importlib.metadata.version("dnnfusion")
    except importlib.metadata.PackageNotFoundError:  # pragma: no cover - always installed
        package = "unknown"
    return f"{package}+codegen{compiler_core.version.CODEGEN_VERSION}"


def _sha256_json(value: Any) -> str:
    text = json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=True)
    return hashlib.sha256(text.encode()).hexdigest()


def resolved_options(stored: dict[str, Any]) -> dict[str, Any]:
    """The options a job compiles with: the compiler's defaults, the service's default
    (``compare_with_onnxruntime`` on, as ``workers.compile_step`` sets it), then ``stored``."""
    defaults = CompileOptions().model_dump(by_alias=True)
    return {**defaults, "compare_with_onnxruntime": True, **stored}


def cache_key(model_sha256: str, body: CompilationCreate) -> str:
    """The sha256 hex digest identifying what decides a compilation's result (module doc)."""
    return _sha256_json(
        {
            "model_sha256": model_sha256,
            "input_shapes": {k: list(v) for k, v in body.input_shapes.items()},
            "target": body.target,
            "device_class": body.device_class,
            "options": resolved_options(body.options.stored()),
            "compiler": compiler_version(),
        }
    )


def request_hash(body: CompilationCreate) -> str:
    """The sha256 hex digest of the request body as parsed (the ``Idempotency-Key`` check:
    key order and whitespace do not matter, every field set or defaulted does)."""
    return _sha256_json(body.model_dump(mode="json", by_alias=True))


def find_reusable(session: Session, *, cache_key: str, owner_id: uuid.UUID) -> Compilation | None:
    """The compilation a request with ``cache_key`` by ``owner_id`` may reuse, or None."""
    current: dict[str, str] = {}
    for job in store.cache_candidates(session, cache_key=cache_key, owner_id=owner_id):
        cls = job.profile_class
        if cls is None:
            continue
        if cls not in current:
            current[cls] = store.profile_fingerprint(session, cls)
        if current[cls] == job.profile_fingerprint:
            return job
    return None


def record_cache_hit(job: Compilation) -> None:
    """One compile-cache hit: ``job`` (the new row) reuses ``job.cached_from_id``'s results."""
    log.info(
        "compile cache hit: compilation %s reuses %s", job.id, job.cached_from_id,
        extra={"event": "compile_cache_hit", "compilation_id": str(job.id),
               "cached_from": str(job.cached_from_id)},
    )
