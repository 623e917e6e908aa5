"""The object store in an S3-compatible bucket (AWS S3, MinIO, ...), through boto3.

Keys live under ``DNNFUSION_S3_PREFIX`` in ``DNNFUSION_S3_BUCKET``; credentials and region come
from the usual AWS variables (``AWS_ACCESS_KEY_ID``, ``AWS_SECRET_ACCESS_KEY``,
``AWS_DEFAULT_REGION``) or files. Files at or above ``DNNFUSION_S3_MULTIPART_THRESHOLD_BYTES``
go up as a multipart upload (parts of at least 5 MiB, S3's minimum), so a failed upload leaves
no object: S3 shows an object only once its upload completed. Downloads are streamed
(``open_stream``) or handed to the client as a presigned GET URL.

Every boto3/botocore error becomes :class:`~dnfstore.objectstore.ObjectMissing` (no such key)
or :class:`~dnfstore.objectstore.StoreUnavailable` with a one-line reason that names the error
code or class, never the endpoint or the credentials.
"""

from __future__ import annotations

import os
import shutil
import threading
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import TYPE_CHECKING, BinaryIO

import boto3
from boto3.exceptions import Boto3Error
from boto3.s3.transfer import TransferConfig
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError

from dnfstore.objectstore import (
    ObjectInfo,
    ObjectMissing,
    ObjectStore,
    StoreUnavailable,
    check_key,
    replace_via_part_file,
)

if TYPE_CHECKING:
    from dnfstore.settings import Settings

MIN_PART_BYTES = 5 << 20  # S3 refuses smaller parts (but the last)
_MISSING_CODES = {"NoSuchKey", "404", "NotFound"}


@contextmanager
def _translated(key: str) -> Iterator[None]:
    """boto3's errors as the store's: missing key, or unavailable with a short reason."""
    try:
        yield
    except ClientError as err:
        code = str(err.response.get("Error", {}).get("Code", "error"))
        if code in _MISSING_CODES:
            raise ObjectMissing(f"{key!r} is not stored") from None
        raise StoreUnavailable(f"object store refused the request ({code[:60]})") from None
    except (BotoCoreError, Boto3Error) as err:
        inner = err.__cause__ or err.__context__
        if isinstance(inner, ClientError):
            code = str(inner.response.get("Error", {}).get("Code", "error"))
            raise StoreUnavailable(f"object store refused the request ({code[:60]})") from None
        raise StoreUnavailable(f"object store unreachable ({type(err).__name__})") from None


class S3ObjectStore(ObjectStore):
    """Objects in ``bucket`` under ``prefix``. ``multipart_threshold`` (bytes): files at least
    this large are uploaded in parts of ``max(multipart_threshold, 5 MiB)``. A request is tried
    ``max_attempts`` times (botocore's standard retry mode) before it is unavailable."""

    def __init__(
        self,
        bucket: str,
        *,
        prefix: str = "",
        endpoint_url: str | None = None,
        presign: bool = False,
        presign_endpoint_url: str | None = None,
        presign_expiry_s: int = 300,
        multipart_threshold: int = 64 << 20,
        region: str | None = None,
        max_attempts: int = 3,
    ) -> None:
        self.bucket = bucket
        self.prefix = check_key(prefix.strip("/")) if prefix.strip("/") else ""
        self.presign = presign
        self.presign_expiry_s = presign_expiry_s
        self.transfer = TransferConfig(
            multipart_threshold=multipart_threshold,
            multipart_chunksize=max(multipart_threshold, MIN_PART_BYTES),
            max_concurrency=4,
        )
        session = boto3.session.Session()
        region = region or session.region_name or "us-east-1"
        config = Config(
            retries={"max_attempts": max_attempts, "mode": "standard"},
            connect_timeout=5,
            read_timeout=60,
            signature_version="s3v4",
            # MinIO and other self-hosted stores answer on one host name: path-style URLs.
            s3={"addressing_style": "path" if endpoint_url else "auto"},
        )
        self.client = session.client(
            "s3", endpoint_url=endpoint_url, region_name=region, config=config
        )
        # Presigned URLs need no request; they are signed for the host clients will reach.
        self.presign_client = (
            session.client("s3", endpoint_url=presign_endpoint_url, region_name=region,
                           config=config)
            if presign_endpoint_url else self.client
        )

    def _key(self, key: str) -> str:
        check_key(key)
        return f"{self.prefix}/{key}" if self.prefix else key

    def put_file(self, path: Path, key: str) -> None:
        with _translated(key):
            self.client.upload_file(str(path), self.bucket, self._key(key), Config=self.transfer)
        Path(path).unlink(missing_ok=True)

    def put_dir(self, path: Path, prefix: str) -> None:
        check_key(prefix)
        files = sorted(p for p in Path(path).rglob("*") if p.is_file())
        keys = [check_key(f"{prefix}/{f.relative_to(path).as_posix()}") for f in files]
        done: list[str] = []
        try:
            for f, key in zip(files, keys, strict=True):
                with _translated(key):
                    self.client.upload_file(str(f), self.bucket, self._key(key),
                                            Config=self.transfer)
                done.append(key)
        except BaseException:
            for key in done:  # no half-stored directory
                with suppress(StoreUnavailable):
                    self.delete(key)
            raise
        shutil.rmtree(path, ignore_errors=True)

    def get_to_path(self, key: str, dest: Path) -> None:
        dest = Path(dest)
        with (
            replace_via_part_file(dest, dest.parent, prefix=f".{dest.name}.") as name,
            _translated(key),  # the rename after it is not a store error
        ):
            self.client.download_file(self.bucket, self._key(key), name, Config=self.transfer)

    def list_keys(self, prefix: str) -> list[str]:
        full = self._key(prefix) + "/"
        keys: list[str] = []
        with _translated(prefix):
            pages = self.client.get_paginator("list_objects_v2").paginate(
                Bucket=self.bucket, Prefix=full
            )
            for page in pages:
                keys.extend(f"{prefix}/{o['Key'][len(full):]}" for o in page.get("Contents", ()))
        return sorted(keys)

    def open_stream(self, key: str) -> BinaryIO:
        with _translated(key):
            return self.client.get_object(Bucket=self.bucket, Key=self._key(key))["Body"]

    def info(self, key: str) -> ObjectInfo:
        with _translated(key):
            head = self.client.head_object(Bucket=self.bucket, Key=self._key(key))
        return ObjectInfo(size=int(head["ContentLength"]), tag=str(head.get("ETag", "")))

    def delete(self, key: str) -> None:
        keys = [self._key(k) for k in self.list_keys(key)] + [self._key(key)]
        with _translated(key):
            for start in range(0, len(keys), 1000):  # DeleteObjects takes 1,000 at most
                self.client.delete_objects(
                    Bucket=self.bucket,
                    Delete={"Objects": [{"Key": k} for k in keys[start:start + 1000]],
                            "Quiet": True},
                )

    def presigned_url(self, key: str, *, filename: str, content_type: str) -> str | None:
        if not self.presign:
            return None
        safe = "".join(c for c in filename if c.isalnum() or c in "-_.") or "download"
        with _translated(key):
            return self.presign_client.generate_presigned_url(
                "get_object",
                Params={
                    "Bucket": self.bucket,
                    "Key": self._key(key),
                    "ResponseContentDisposition": f'attachment; filename="{safe}"',
                    "ResponseContentType": content_type,
                },
                ExpiresIn=self.presign_expiry_s,
            )


def s3_store(settings: Settings) -> S3ObjectStore:
    """A new store for the ``DNNFUSION_S3_*`` settings."""
    if not settings.s3_bucket:
        raise ValueError("DNNFUSION_S3_BUCKET must be set when DNNFUSION_STORAGE_BACKEND=s3")
    return S3ObjectStore(
        settings.s3_bucket,
        prefix=settings.s3_prefix,
        endpoint_url=settings.s3_endpoint_url or None,
        presign=settings.s3_presign,
        presign_endpoint_url=settings.s3_presign_endpoint_url or None,
        presign_expiry_s=settings.s3_presign_expiry_s,
        multipart_threshold=settings.s3_multipart_threshold_bytes,
    )


_stores: dict[tuple, S3ObjectStore] = {}
_lock = threading.Lock()


def shared_s3_store(settings: Settings) -> S3ObjectStore:
    """One store (one boto3 client, thread-safe) per process and S3 configuration; a forked
    worker child builds its own."""
    ident = (os.getpid(), settings.s3_bucket, settings.s3_prefix, settings.s3_endpoint_url,
             settings.s3_presign, settings.s3_presign_endpoint_url,
             settings.s3_presign_expiry_s, settings.s3_multipart_threshold_bytes)
    with _lock:
        store = _stores.get(ident)
        if store is None:
            store = _stores[ident] = s3_store(settings)
        return store
