"""Deployment settings: one pydantic-settings class, read from the environment, that the API
process and the workers share (database, storage, Redis, limits, the dashboard's session).

Every field is set by ``DNNFUSION_<FIELD>`` except the two well-known URLs, ``DATABASE_URL`` and
``REDIS_URL``. ``.env.example`` lists them all. Paths left unset derive from ``data_dir``: the
embedded default keeps a SQLite file and the storage directory there.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import AliasChoices, Field, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from dnfstore.objectstore import BadKey, check_key

GiB = 1024**3


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix="DNNFUSION_", extra="ignore", populate_by_name=True, frozen=True
    )

    # Where things live.
    data_dir: Path = Path("dnnfusion-data")
    storage_dir: Path | None = None  # default: <data_dir>/storage
    database_url: str | None = Field(
        default=None, validation_alias=AliasChoices("DATABASE_URL", "database_url")
    )  # default: sqlite:///<data_dir>/dnnfusion.db
    redis_url: str = Field(
        default="redis://127.0.0.1:6379/0", validation_alias=AliasChoices("REDIS_URL", "redis_url")
    )

    # Stored models and artifacts: the storage directory (local) or an S3-compatible bucket
    # (s3; credentials from the AWS_* variables). With s3, storage_dir only holds this host's
    # scratch (uploads in progress, work dirs, the workers' model cache).
    storage_backend: Literal["local", "s3"] = "local"
    s3_bucket: str | None = None
    s3_endpoint_url: str | None = None  # unset: AWS S3
    s3_prefix: str = ""  # keys live under <prefix>/
    s3_presign: bool = False  # artifact downloads: 307 to a presigned GET (else streamed)
    s3_presign_endpoint_url: str | None = None  # the store's URL as clients reach it
    s3_presign_expiry_s: int = Field(default=300, gt=0)
    s3_multipart_threshold_bytes: int = Field(default=64 << 20, gt=0)
    model_cache_max_bytes: int = Field(default=20 * GiB, ge=0)  # workers' fetched models

    # Who runs compilations: a Celery worker fleet, or a thread pool inside the API process.
    worker_mode: Literal["celery", "embedded"] = "celery"
    embedded_workers: int = Field(default=2, ge=1)
    celery_queue: str = "dnnfusion"

    # Uploads.
    max_upload_bytes: int = Field(default=2 * GiB, gt=0)
    max_extracted_bytes: int = Field(default=4 * GiB, gt=0)  # total of an archive's members
    max_compression_ratio: float = Field(default=100.0, gt=1)  # uncompressed / compressed
    max_archive_members: int = Field(default=1000, gt=0)
    max_concurrent_validations: int = Field(default=2, ge=1)  # validation loads the model

    # Compilations.
    targets: list[str] = ["host", "linux-arm64"]  # device classes the compiler builds for
    compile_soft_time_limit_s: int = Field(default=3600, gt=0)
    compile_time_limit_s: int = Field(default=3900, gt=0)  # hard: the worker child is killed
    broker_visibility_timeout_s: int | None = None  # default: hard limit + 600
    heartbeat_interval_s: float = Field(default=15.0, gt=0)
    heartbeat_timeout_s: float = Field(default=120.0, gt=0)  # a running job this quiet is lost
    reaper_interval_s: float = Field(default=60.0, gt=0)
    requeue_queued_after_s: float = Field(default=600.0, gt=0)  # re-send a job nobody took
    max_attempts: int = Field(default=2, ge=1)  # runs of one job, counting re-runs after a loss
    # The most memory one model may need (bytes): the compiler refuses a model whose estimate
    # after import, or whose exact arena + weights, is over it; a job's memory_limit_bytes
    # option can lower it, never raise it. The compiler reads the same variable on its own.
    memory_limit_bytes: int = Field(default=8 * GiB, gt=0)

    # Per-user limits: the value for a user whose ``user_limits`` row leaves it NULL
    # (``dnnfusion users limits``). Generous; 0 allows none.
    default_max_concurrent_compilations: int = Field(default=64, ge=0)  # queued + running
    default_max_stored_bytes: int = Field(default=1024 * GiB, ge=0)  # models + own artifacts
    default_max_uploads_per_minute: int = Field(default=600, ge=0)  # models created in 60 s

    # Dashboard sign-in: the key that signs session cookies (default: a random key kept in
    # <storage root>/session.key; set it when API processes share no storage directory) and how
    # long a session lasts.
    session_secret: str | None = Field(default=None, repr=False)
    session_max_age_s: int = Field(default=8 * 3600, gt=0)

    # Logs and metrics: log lines as one JSON object each (json: what deployments set) or as
    # readable text; the bearer token GET /metrics requires (unset: it answers loopback only).
    log_format: Literal["json", "text"] = "text"
    metrics_token: str | None = Field(default=None, repr=False)

    # TEST ONLY: sleep this long in the compile adapter before calling the compiler, so a test
    # can kill a worker mid-task. Never set it in a deployment.
    test_compile_delay_s: float = Field(default=0.0, ge=0)

    @model_validator(mode="after")
    def _check_limits(self) -> Settings:
        if self.compile_time_limit_s <= self.compile_soft_time_limit_s:
            raise ValueError("compile_time_limit_s must exceed compile_soft_time_limit_s")
        if self.visibility_timeout_s <= self.compile_time_limit_s:
            raise ValueError("broker_visibility_timeout_s must exceed compile_time_limit_s")
        if self.heartbeat_timeout_s <= self.heartbeat_interval_s:
            raise ValueError("heartbeat_timeout_s must exceed heartbeat_interval_s")
        if self.storage_backend == "s3" and not self.s3_bucket:
            raise ValueError("s3_bucket must be set when storage_backend is s3")
        prefix = self.s3_prefix.strip("/")
        if prefix:
            try:
                check_key(prefix)
            except BadKey:
                raise ValueError(
                    f"s3_prefix {self.s3_prefix[:80]!r} must be a plain relative path "
                    "(no '..', '.', empty parts or backslashes)"
                ) from None
        return self

    @property
    def storage_root(self) -> Path:
        return (self.storage_dir or self.data_dir / "storage").absolute()

    @property
    def sqlalchemy_url(self) -> str:
        if self.database_url:
            return self.database_url
        return f"sqlite:///{(self.data_dir / 'dnnfusion.db').absolute()}"

    @property
    def visibility_timeout_s(self) -> int:
        if self.broker_visibility_timeout_s is not None:
            return self.broker_visibility_timeout_s
        return self.compile_time_limit_s + 600


@lru_cache
def get_settings() -> Settings:
    """The process-wide settings, read once from the environment."""
    return Settings()
