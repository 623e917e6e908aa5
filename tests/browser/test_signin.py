"""Sign in with an API key, sign out; a wrong key is a message next to the field."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from tests.browser.pages import assert_no_traceback, sign_in, sign_out

pytestmark = pytest.mark.browser


def test_wrong_key_shows_the_error_and_stays_on_signin(page, shots):
    page.goto("/signin")
    shots.take(page, "signin")
    page.fill("#api-key", "dnf_not-a-real-key")
    page.click("#signin-submit")
    error = page.locator("#signin-error")
    expect(error).to_have_text(re.compile(r"\S"))  # a message, not an empty element
    assert re.search(r"/signin", page.url), page.url
    expect(page.locator("#compilations-table")).to_have_count(0)
    assert_no_traceback(page)


def test_empty_key_is_not_submitted(page):
    page.goto("/signin")
    page.click("#signin-submit")
    # The browser's own required-field check keeps the form here.
    assert page.eval_on_selector("#api-key", "e => e.validity.valueMissing")
    assert re.search(r"/signin", page.url), page.url
    expect(page.locator("#compilations-table")).to_have_count(0)
    assert_no_traceback(page)


def test_right_key_lands_on_compilations_and_sign_out_ends_the_session(page, service):
    sign_in(page, service.keys["alice"])
    expect(page.locator("a#nav-compilations")).to_have_attribute("href", "/")
    expect(page.locator("a#nav-devices")).to_have_attribute("href", "/devices")
    expect(page.locator("a#nav-profiling")).to_have_attribute("href", "/profiling")
    assert_no_traceback(page)
    sign_out(page)
    page.goto("/")  # the session cookie is gone: back to the sign-in form
    expect(page.locator("#signin-form")).to_be_visible()
    expect(page.locator("#compilations-table")).to_have_count(0)


def test_unsigned_visitor_is_sent_to_signin(page):
    page.goto("/devices")
    expect(page.locator("#signin-form")).to_be_visible()
    expect(page.locator("#devices-table, #devices-empty")).to_have_count(0)
