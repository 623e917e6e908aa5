"""Fixtures of the browser tests (headless Chromium through Playwright, the real service).

* ``service`` (session): ``dnnfusion serve`` in a temporary directory, users alice and bob.
* ``browser`` (session): Debian's Chromium launched once; missing is a failure, not a skip.
* ``page`` (per test): a fresh context (no cookies) on the service; a JavaScript dialog, an
  uncaught page error or a request leaving the machine fails the test; a failing test leaves
  ``failure.png`` in its tmp dir.
* ``cls_report`` (session): the PP-OCR classifier compiled once by alice through the JSON API,
  shared by the report tests.
* ``shots`` (session): screenshots as artifacts (and ``$DNNFUSION_SCREENSHOTS_DIR``).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest

from bench.real_models import real_model_path
from tests.browser import api
from tests.browser.api import CLS_FILE, CLS_SHAPES
from tests.browser.chromium import LAUNCH_ARGS, VIEWPORT, chromium_path, sync_playwright
from tests.browser.server import Service, start_service
from tests.browser.shots import Shots


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item, call):
    report = yield
    setattr(item, f"rep_{report.when}", report)
    return report


@pytest.fixture(scope="session")
def service(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Service]:
    svc = start_service(tmp_path_factory.mktemp("service"))
    try:
        yield svc
    finally:
        svc.proc.stop()


# Generous waits: the machine may be busy (2 cores shared with compilations and other tests).
ACTION_TIMEOUT_MS = 20_000


@pytest.fixture(scope="session")
def browser():
    executable = chromium_path()
    with sync_playwright() as pw:
        from playwright.sync_api import expect

        expect.set_options(timeout=ACTION_TIMEOUT_MS)
        chromium = pw.chromium.launch(
            executable_path=str(executable), args=LAUNCH_ARGS, headless=True
        )
        try:
            yield chromium
        finally:
            chromium.close()


@dataclass
class Watched:
    """What a page did that no test may allow: a JavaScript dialog (an escaped name never opens
    one), an uncaught error, a request leaving the machine (nothing is fetched from the
    internet at run time; such requests are aborted and recorded)."""

    dialogs: list[str]
    errors: list[str]
    external: list[str]


@pytest.fixture
def watched() -> Watched:
    return Watched(dialogs=[], errors=[], external=[])


@pytest.fixture
def page(browser, service: Service, watched: Watched, request, tmp_path: Path):
    context = browser.new_context(viewport=VIEWPORT, base_url=service.base_url)
    context.set_default_timeout(ACTION_TIMEOUT_MS)
    local = urlsplit(service.base_url).netloc

    def outside(route) -> None:
        watched.external.append(route.request.url)
        route.abort()

    context.route(lambda url: urlsplit(url).netloc != local, outside)
    pg = context.new_page()

    def on_dialog(dialog) -> None:
        watched.dialogs.append(f"{dialog.type}: {dialog.message}")
        dialog.dismiss()

    pg.on("dialog", on_dialog)
    pg.on("pageerror", lambda err: watched.errors.append(str(err)))
    try:
        yield pg
        call = getattr(request.node, "rep_call", None)
        if call is not None and call.failed:
            pg.screenshot(path=tmp_path / "failure.png")
    finally:
        context.close()
    assert not watched.dialogs, f"a page opened a JavaScript dialog: {watched.dialogs}"
    assert not watched.errors, f"uncaught errors in the page: {watched.errors}"
    assert not watched.external, f"requests leaving the machine: {watched.external}"


@pytest.fixture(scope="session")
def shots(tmp_path_factory: pytest.TempPathFactory) -> Shots:
    return Shots(tmp_path_factory.mktemp("screenshots"))


@pytest.fixture(scope="session")
def cls_model() -> Path:
    return real_model_path(CLS_FILE)


@dataclass
class Compiled:
    job: dict[str, Any]
    report: dict[str, Any]


@pytest.fixture(scope="session")
def cls_report(service: Service, cls_model: Path) -> Compiled:
    with api.client(service.base_url, service.keys["alice"]) as c:
        job, rep = api.upload_and_compile(c, cls_model, CLS_FILE, CLS_SHAPES)
    return Compiled(job=job, report=rep)
