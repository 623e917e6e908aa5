"""``Client``: the service's REST API (``/api/v1``) from Python, on httpx."""

from __future__ import annotations

import os
import time
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from dnnfusion.client import config, retry
from dnnfusion.client.errors import DnnfusionError, ServerUnreachableError
from dnnfusion.client.files import save_stream
from dnnfusion.client.job import CompilationStatus, CompileJob
from dnnfusion.client.packing import UploadBody, source_for

_VERSION = "0.1.0"
_REDIRECTS = (302, 303, 307, 308)
_PLAIN = {"User-Agent": f"dnnfusion-client/{_VERSION}"}  # what a redirected download sends


@dataclass(frozen=True)
class Model:
    """A model stored on the server (``POST /api/v1/models``'s answer). ``created``: False when
    the same bytes were uploaded before and that model was returned; ``inputs``: name, dtype and
    shape of each input (a ``str`` or ``None`` dim is dynamic and must be pinned with
    ``input_shapes``)."""

    id: str
    name: str
    sha256: str
    size_bytes: int
    upload_format: str
    inputs: list[dict[str, Any]]
    created: bool
    raw: dict[str, Any] = field(repr=False)


class Client:
    """The dnnfusion service at ``url`` (server root, e.g. ``http://127.0.0.1:8000``) with
    ``api_key``; both default to ``DNNFUSION_URL`` / ``DNNFUSION_API_KEY``, then
    ``~/.config/dnnfusion/client.toml`` (:mod:`dnnfusion.client.config`).

    ``timeout_s``: seconds a request may wait for the connection or for data (an upload:
    ``upload_timeout_s``, as the server validates the model before it answers). ``retry``:
    backoff on 502/503/504 and connection errors only (:mod:`dnnfusion.client.retry`).
    Use as a context manager or call :meth:`close`.

    Raises :class:`AuthenticationError` when no key is configured and
    :class:`DnnfusionError` for a malformed URL or config file.
    """

    def __init__(
        self,
        url: str | None = None,
        api_key: str | None = None,
        *,
        timeout_s: float = 60.0,
        upload_timeout_s: float = 600.0,
        retry_policy: retry.RetryPolicy | None = None,
        verify: bool | str = True,
    ) -> None:
        conf = config.resolve(url, api_key)
        self.url = conf.url
        self.retry_policy = retry_policy or retry.RetryPolicy()
        self.upload_timeout = httpx.Timeout(upload_timeout_s, connect=min(10.0, upload_timeout_s))
        self._http = httpx.Client(
            base_url=conf.url,
            headers={"X-API-Key": conf.api_key, "User-Agent": f"dnnfusion-client/{_VERSION}"},
            timeout=httpx.Timeout(timeout_s, connect=min(10.0, timeout_s)),
            follow_redirects=False,  # the key must not follow a redirect to another host
            verify=verify,
        )

    def __enter__(self) -> Client:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        self._http.close()

    # ---- models ---------------------------------------------------------------------------

    def upload_model(
        self,
        path: str | os.PathLike[str],
        *,
        on_upload: Callable[[int, int | None], None] | None = None,
    ) -> Model:
        """Upload the model at ``path``: a single ``.onnx``; an ``.onnx`` with external-data
        files beside it, or a folder holding one ``.onnx`` and its data (both packed into a
        ``.tar.gz`` on the fly); or an archive you made. Streamed from disk (1 MiB at a time),
        never read into memory; ``on_upload(sent_bytes, total_bytes_or_None)`` follows it.

        Safe to retry (the API returns the stored model for bytes it has), so 502/503/504 and
        connection errors are retried. Raises :class:`InvalidModelError` (a missing path, a
        folder without exactly one .onnx, or the API's 400/413/415/422 reason, e.g. not a
        valid ONNX model), :class:`AuthenticationError`, :class:`QuotaExceededError`,
        :class:`ServerError`, :class:`ServerUnreachableError`.
        """
        body = UploadBody(source_for(path), on_upload)

        def build() -> httpx.Request:
            return self._http.build_request(
                "POST", "/api/v1/models", content=body.chunks(), headers=body.headers,
                timeout=self.upload_timeout,
            )

        response = retry.send(self._http, build, self.retry_policy, idempotent=True)
        data = response.json()
        return Model(
            id=str(data["id"]),
            name=data.get("name", ""),
            sha256=data.get("sha256", ""),
            size_bytes=int(data.get("size_bytes") or 0),
            upload_format=data.get("upload_format", ""),
            inputs=list(data.get("inputs") or []),
            created=response.status_code == 201,
            raw=data,
        )

    # ---- compilations ---------------------------------------------------------------------

    def compile(
        self,
        model: Model | str | uuid.UUID | os.PathLike[str],
        input_shapes: Mapping[str, Sequence[int]] | None = None,
        target: str = "host",
        options: Mapping[str, Any] | None = None,
        device_class: str | None = None,
        *,
        cache: bool = True,
        idempotency_key: str | None = None,
    ) -> CompileJob:
        """Queue a compilation and return its :class:`CompileJob` (at once; call
        :meth:`CompileJob.wait`). Its ``last_status`` is the server's answer: when an identical
        earlier compilation answered it (the compile cache), ``cache_hit`` is True and the job
        has already succeeded; ``cache=False`` always compiles.

        ``model``: a :class:`Model`, a model id, or a path (uploaded first, see
        :meth:`upload_model`). ``input_shapes``: ``{"x": (1, 3, 640, 640)}`` pins dynamic dims;
        ``target``: ``host`` or ``linux-arm64``; ``options``: compiler options by their API
        names (``rewrite``, ``fast_math``, ``memory_limit_bytes``, ``build_timeout_s``,
        ``validate``, ``compare_with_onnxruntime``); ``device_class``: the profiling-database
        class whose measurements decide "profile" fusions.

        With ``idempotency_key`` (any unique text of 1-255 visible ASCII characters, e.g.
        ``uuid.uuid4().hex``) the request is sent with that ``Idempotency-Key`` and retried like
        a GET: the server answers a repeat within 24 h with the compilation the first one made
        (a reused key with other settings: :class:`ConflictError`). Without one it is re-sent
        only when the connection was never made.
        After a 502/503/504 or a connection lost once the request was sent, the model's recent
        compilations are listed: one created since, with these settings, is returned; if there
        is none, :class:`OutcomeUnknownError` (a :class:`ServerError`) is raised. Raises
        :class:`NotFoundError` (unknown model), :class:`InvalidModelError` (422: unknown input
        name, bad shape, target or option), :class:`QuotaExceededError` and the transport errors.
        """
        model_id = self._model_id(model)
        body: dict[str, Any] = {
            "model_id": model_id,
            "input_shapes": {
                str(k): [int(d) for d in v] for k, v in (input_shapes or {}).items()
            },
            "target": target,
            "options": dict(options or {}),
        }
        if device_class is not None:
            body["device_class"] = device_class
        if not cache:
            body["cache"] = False
        if idempotency_key is not None:
            headers = {"Idempotency-Key": idempotency_key}

            def build_keyed() -> httpx.Request:
                return self._http.build_request("POST", "/api/v1/compilations", json=body,
                                                headers=headers)

            response = retry.send(self._http, build_keyed, self.retry_policy, idempotent=True)
            return self._job(response.json())
        before = self._recent_compilations(model_id)

        def build() -> httpx.Request:
            return self._http.build_request("POST", "/api/v1/compilations", json=body)

        try:
            response = retry.send(self._http, build, self.retry_policy, idempotent=False)
        except retry.OutcomeUnknownError as err:
            unknown = f"{err.detail}; whether the compilation was queued is unknown"
            if before is None:
                raise retry.OutcomeUnknownError(
                    f"{unknown} (the model's compilations could not be listed before it was "
                    "sent, so they cannot be compared)", err.status_code
                ) from None
            try:
                found = self._created_since(model_id, before, body)
            except DnnfusionError as check:
                raise retry.OutcomeUnknownError(
                    f"{unknown} (listing the model's compilations failed too: {check})",
                    err.status_code,
                ) from None
            if found is None:
                raise retry.OutcomeUnknownError(
                    f"{err.detail}; no new compilation of model {model_id} with these settings "
                    "is listed, so most likely it was not queued: submit it again",
                    err.status_code,
                ) from None
            return CompileJob(self, found)
        return self._job(response.json())

    def _job(self, answer: dict[str, Any]) -> CompileJob:
        """The job of a POST /compilations answer, that answer as its ``last_status``."""
        job = CompileJob(self, str(answer["id"]))
        job.last_status = CompilationStatus.from_json(answer)
        return job

    def compilation(self, compilation_id: str | uuid.UUID) -> CompileJob:
        """A handle on an existing compilation (nothing is requested until you call a method)."""
        return CompileJob(self, str(compilation_id))

    # ---- plumbing -------------------------------------------------------------------------

    def _model_id(self, model: Model | str | uuid.UUID | os.PathLike[str]) -> str:
        if isinstance(model, Model):
            return model.id
        if isinstance(model, uuid.UUID):
            return str(model)
        if isinstance(model, str):
            try:
                return str(uuid.UUID(model))
            except ValueError:
                pass
        return self.upload_model(model).id

    def _recent_compilations(self, model_id: str) -> set[str] | None:
        """Ids of the model's newest compilations (``None`` if they cannot be listed now)."""
        try:
            data = self._get_json(
                "/api/v1/compilations", params={"model_id": model_id, "limit": 100}
            )
        except (ServerUnreachableError, retry.OutcomeUnknownError):
            return None
        except DnnfusionError as err:
            if err.status_code is not None and err.status_code >= 500:
                return None
            raise
        return {str(j["id"]) for j in data.get("data", [])}

    def _created_since(self, model_id: str, before: set[str], body: dict[str, Any]) -> str | None:
        """The newest compilation of the model not in ``before`` with the settings of ``body``."""
        data = self._get_json("/api/v1/compilations", params={"model_id": model_id, "limit": 100})
        for job in data.get("data", []):  # newest first
            if str(job["id"]) in before:
                continue
            if (
                job.get("target") == body["target"]
                and (job.get("input_shapes") or {}) == body["input_shapes"]
                and (job.get("options") or {}) == body["options"]
                and job.get("device_class") == body.get("device_class")
            ):
                return str(job["id"])
        return None

    def _get_json(self, path: str, params: dict[str, Any] | None = None) -> Any:
        def build() -> httpx.Request:
            return self._http.build_request("GET", path, params=params)

        return retry.send(self._http, build, self.retry_policy, idempotent=True).json()

    def _download(self, path: str, dest: Path, *, expected_bytes: int | None,
                  expected_sha256: str | None) -> Path:
        policy = self.retry_policy
        for attempt in range(1, max(1, policy.max_attempts) + 1):
            response = retry.send(
                self._http, lambda: self._http.build_request("GET", path), policy,
                idempotent=True, stream=True,
            )
            if response.status_code in _REDIRECTS and response.headers.get("location"):
                # The server keeps artifacts in object storage and sent a presigned URL: GET it
                # without the API key (the signature in the URL is the permission).
                url = str(response.url.join(response.headers["location"]))
                response.close()
                response = retry.send(
                    self._http, lambda url=url: httpx.Request("GET", url, headers=_PLAIN),
                    policy, idempotent=True, stream=True,
                )
            try:
                save_stream(response, dest, expected_bytes=expected_bytes,
                            expected_sha256=expected_sha256)
                return dest
            except retry.BROKEN as err:  # the body broke off after the headers
                if attempt >= policy.max_attempts:
                    raise ServerUnreachableError(
                        f"download of {path} broke off in all {attempt} attempts "
                        f"({type(err).__name__})"
                    ) from None
                retry.pause(policy, attempt, None, "download broke off", time.sleep)
            finally:
                response.close()
        raise AssertionError("unreachable")  # pragma: no cover
