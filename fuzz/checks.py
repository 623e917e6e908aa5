"""The two targets of the mutation fuzzer and what counts as a failure.

* ``plan``: ``dnnfusion.cli.main(["plan", ...])`` in-process; exit 0, or exit 2 with exactly one
  line ``error: ...`` on stderr. Anything else (another code, a traceback, extra lines) fails.
* ``upload``: ``POST /api/v1/models`` on the FastAPI app (TestClient, SQLite data dir); 201 (or
  200: the same bytes stored before), or a 4xx whose ``detail`` is one line. A 5xx or an
  exception out of the app fails.

Both run inside :mod:`fuzz.child`, so a hang or a dying process is caught by the parent.
"""

from __future__ import annotations

import contextlib
import io
import shutil
import tempfile
import traceback
from pathlib import Path

from fuzz.case import Case

UPLOAD_RESET_EVERY = 200  # uploads per data dir (accepted models pile up in storage)


def _outcome(ok: bool, code: int | str, detail: str) -> dict:
    return {"ok": ok, "code": code, "detail": detail[-4000:]}


def run_plan(case: Case) -> dict:
    from dnnfusion.cli import main

    with tempfile.TemporaryDirectory(prefix="fuzz-plan-") as tmp:
        root = Path(tmp)
        (root / "model.onnx").write_bytes(case.main)
        for name, data in case.extra.items():
            (root / name).write_bytes(data)
        out, err = io.StringIO(), io.StringIO()
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            try:
                code = main(case.plan_argv(root / "model.onnx"))
            except SystemExit as exit_:
                code = exit_.code if isinstance(exit_.code, int) else 1
            except BaseException:  # noqa: BLE001 - the finding itself
                return _outcome(False, "traceback", traceback.format_exc())
    stderr = err.getvalue()
    lines = stderr.strip().splitlines()
    if code == 0:
        return _outcome("Traceback" not in stderr, 0, stderr)
    if code == 2:
        ok = len(lines) == 1 and lines[0].startswith("error: ") and "Traceback" not in stderr
        return _outcome(ok, 2, stderr)
    return _outcome(False, code, stderr)


class Uploader:
    """The service app on a temporary SQLite data dir, with one user and API key; a fresh data
    dir every :data:`UPLOAD_RESET_EVERY` uploads."""

    def __init__(self) -> None:
        self.count = 0
        self.tmp: Path | None = None
        self.client = None
        self.key = ""

    def _start(self) -> None:
        from fastapi.testclient import TestClient

        from dnfstore import migrate
        from dnfstore.db import make_engine, make_sessionmaker
        from dnfstore.settings import Settings
        from service.crud.users import create_api_key, create_user
        from service.main import create_app
        from workers.embedded import EmbeddedWorker

        self.close()
        self.tmp = Path(tempfile.mkdtemp(prefix="fuzz-upload-"))
        data = self.tmp / "data"
        settings = Settings(
            data_dir=data,
            database_url=f"sqlite:///{data / 'dnnfusion.db'}",
            storage_dir=data / "storage",
            worker_mode="embedded",
            max_upload_bytes=1 << 20,
            max_extracted_bytes=2 << 20,
            max_compression_ratio=100,
        )
        migrate.upgrade(settings)
        engine = make_engine(settings)
        with make_sessionmaker(engine)() as session:
            user = create_user(session=session, name="fuzz")
            _, self.key = create_api_key(session=session, user=user, kind="user")
        engine.dispose()
        app = create_app(settings, dispatcher=EmbeddedWorker(settings))
        self.client = TestClient(app)
        self.client.__enter__()

    def close(self) -> None:
        if self.client is not None:
            with contextlib.suppress(Exception):
                self.client.__exit__(None, None, None)
            self.client = None
        if self.tmp is not None:
            shutil.rmtree(self.tmp, ignore_errors=True)
            self.tmp = None

    def __call__(self, case: Case) -> dict:
        if self.client is None or self.count % UPLOAD_RESET_EVERY == 0:
            self._start()
        self.count += 1
        try:
            r = self.client.post(
                "/api/v1/models",
                headers={"X-API-Key": self.key},
                files={"file": (case.filename, case.main, "application/octet-stream")},
            )
        except BaseException:  # noqa: BLE001 - an exception out of the app is a 500
            return _outcome(False, 500, traceback.format_exc())
        if r.status_code in (200, 201):
            return _outcome(True, r.status_code, "")
        detail = ""
        with contextlib.suppress(Exception):
            detail = str(r.json().get("detail", ""))
        ok = 400 <= r.status_code < 500 and bool(detail) and "\n" not in detail \
            and "Traceback" not in detail
        return _outcome(ok, r.status_code, detail or r.text[:2000])
