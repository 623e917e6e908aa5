"""Bad input in the upload form: a message next to the field, no new job, no traceback."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from bench.real_models import real_model_path
from tests.browser import api
from tests.browser.pages import assert_no_traceback, sign_in
from tests.browser.server import MAX_UPLOAD_BYTES

pytestmark = pytest.mark.browser

MESSAGE = re.compile(r"\w{3,}")  # words, not an empty element or a lone symbol


def _submit(page, file, shapes: str = "") -> None:
    page.set_input_files("#model-file", file)
    page.fill("#input-shapes", shapes)
    page.click("#upload-submit")


@pytest.fixture
def alice_page(page, service):
    """Alice's compilations page; after the test, alice has no more compilations than before."""
    with api.client(service.base_url, service.keys["alice"]) as c:
        before = api.compilation_ids(c)
    sign_in(page, service.keys["alice"])
    yield page
    assert_no_traceback(page)
    with api.client(service.base_url, service.keys["alice"]) as c:
        assert api.compilation_ids(c) == before, "bad input started a compilation"


def test_text_file_is_refused_next_to_the_file_field(alice_page):
    _submit(alice_page, {"name": "notes.txt", "mimeType": "text/plain", "buffer": b"hello\n"})
    expect(alice_page.locator("#model-file-error")).to_have_text(MESSAGE)


def test_garbage_named_onnx_is_refused_next_to_the_file_field(alice_page):
    garbage = {"name": "broken.onnx", "mimeType": "application/octet-stream",
               "buffer": b"\x08\x07garbage that is no protobuf" * 8}
    _submit(alice_page, garbage)
    expect(alice_page.locator("#model-file-error")).to_have_text(MESSAGE)


def test_bad_shape_text_is_refused_next_to_the_shapes_field(alice_page, cls_model):
    _submit(alice_page, str(cls_model), "x=1xZ")
    expect(alice_page.locator("#input-shapes-error")).to_have_text(MESSAGE)


def test_shape_for_a_name_that_is_no_input_is_refused_next_to_the_shapes_field(alice_page, cls_model):
    _submit(alice_page, str(cls_model), "y=1x3x48x192")  # the classifier's input is x
    expect(alice_page.locator("#input-shapes-error")).to_contain_text(re.compile(r"['\"]y['\"]"))


def test_too_large_file_is_refused_next_to_the_file_field(alice_page):
    big = real_model_path("ppocr_v4_det.onnx")  # 4.7 MB, over the service's 1 MiB cap
    assert big.stat().st_size > MAX_UPLOAD_BYTES
    _submit(alice_page, str(big), "x=1x3x640x640")
    expect(alice_page.locator("#model-file-error")).to_have_text(
        re.compile(r"large|limit|exceed|MiB|MB|bytes", re.I), timeout=30_000
    )
