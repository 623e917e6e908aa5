"""Sign in with an API key, the session cookie's flags, sign out, and what ends a session."""

from __future__ import annotations

import re

from sqlalchemy import update

from dnfstore.base import utcnow
from dnfstore.db import make_engine, make_sessionmaker
from dnfstore.models import ApiKey
from service.crud.users import create_api_key, create_user
from tests.service.dashboard.conftest import form_token, page_token


def _error_text(html: str) -> str:
    found = re.search(r'<p id="signin-error"[^>]*>([^<]*)</p>', html)
    assert found, "no #signin-error in the page"
    return found.group(1)


def test_pages_redirect_to_signin_without_a_session(dash):
    b = dash.browser()
    for path in ("/", "/devices", "/profiling", "/compilations/00000000-0000-0000-0000-000000000000"):
        r = b.get(path, follow_redirects=False)
        assert (r.status_code, r.headers["location"]) == (303, "/signin"), path


def test_signin_form_matches_the_dom_contract(dash):
    r = dash.browser().get("/signin")
    assert r.status_code == 200
    for needle in ('<form id="signin-form"', 'name="api_key"', 'id="api-key"',
                   'id="signin-submit"', 'id="signin-error"'):
        assert needle in r.text, needle
    assert "dnf_signin" in r.headers["set-cookie"]


def test_signin_sets_a_secure_session_cookie(dash):
    b = dash.browser()
    token = form_token(b.get("/signin").text)
    r = b.post("/signin", data={"api_key": dash.alice, "csrf_token": token},
               follow_redirects=False)
    assert (r.status_code, r.headers["location"]) == (303, "/")
    cookie = next(c for c in r.headers.get_list("set-cookie") if c.startswith("dnf_session="))
    flags = {part.strip().split("=")[0].lower() for part in cookie.split(";")[1:]}
    assert {"httponly", "max-age", "path", "samesite"} <= flags, cookie
    assert "samesite=strict" in cookie.lower()
    assert "max-age=28800" in cookie.lower()
    assert "secure" not in flags  # plain http here; https below
    page = b.get("/")
    assert page.status_code == 200 and '<span class="user" title="signed in as">alice</span>' in page.text


def test_session_cookie_is_secure_over_https(dash):
    b = dash.browser("https://testserver")
    token = form_token(b.get("/signin").text)
    r = b.post("/signin", data={"api_key": dash.alice, "csrf_token": token},
               follow_redirects=False)
    cookie = next(c for c in r.headers.get_list("set-cookie") if c.startswith("dnf_session="))
    assert "; secure" in cookie.lower(), cookie


def test_wrong_key_is_a_401_page_with_the_message_next_to_the_field(dash):
    b = dash.browser()
    token = form_token(b.get("/signin").text)
    r = b.post("/signin", data={"api_key": "dnf_not-a-key", "csrf_token": token})
    assert r.status_code == 401
    assert _error_text(r.text) == "this API key is not valid"
    assert "dnf_session" not in b.cookies
    # An empty key and an agent key are refused the same way.
    r = b.post("/signin", data={"api_key": "  ", "csrf_token": form_token(r.text)})
    assert (r.status_code, _error_text(r.text)) == (401, "enter your API key")
    r = b.post("/signin", data={"api_key": dash.agent, "csrf_token": form_token(r.text)})
    assert r.status_code == 401
    assert _error_text(r.text) == "a device-agent key cannot sign in; use a user key"
    assert "dnf_session" not in b.cookies


def test_signin_without_the_form_token_is_refused(dash):
    b = dash.browser()
    b.get("/signin")
    r = b.post("/signin", data={"api_key": dash.alice, "csrf_token": "forged"})
    assert r.status_code == 403
    assert _error_text(r.text) == "the sign-in form expired; please try again"
    assert "dnf_session" not in b.cookies
    # A token from another browser's form does not fit this browser's sign-in cookie.
    other = form_token(dash.browser().get("/signin").text)
    r = b.post("/signin", data={"api_key": dash.alice, "csrf_token": other})
    assert r.status_code == 403


def test_signout_needs_the_csrf_token_and_ends_the_session(dash):
    b, token = dash.signed_in(dash.alice)
    r = b.post("/signout", data={}, follow_redirects=False)
    assert r.status_code == 403
    assert b.get("/", follow_redirects=False).status_code == 200  # still signed in
    r = b.post("/signout", data={"csrf_token": token}, follow_redirects=False)
    assert (r.status_code, r.headers["location"]) == (303, "/signin")
    assert "dnf_session" not in b.cookies
    assert b.get("/", follow_redirects=False).status_code == 303


def test_signout_form_is_in_the_nav(dash):
    b, token = dash.signed_in(dash.alice)
    html = b.get("/").text
    assert '<form id="signout-form" method="post" action="/signout">' in html
    assert 'id="signout"' in html and f'value="{token}"' in html
    for nav, href in (("nav-compilations", "/"), ("nav-devices", "/devices"),
                      ("nav-profiling", "/profiling")):
        assert f'<a id="{nav}" href="{href}"' in html


def test_forged_or_expired_cookies_are_not_sessions(dash):
    b, _ = dash.signed_in(dash.alice)
    good = b.cookies["dnf_session"]
    parts = good.split(".")
    forged = ".".join([*parts[:3], str(int(parts[3]) + 10**6), *parts[4:]])  # longer expiry
    expired = ".".join([*parts[:3], "1000", *parts[4:]])
    other = dash.browser()
    for value in (forged, expired, good[:-2] + "xx", "garbage"):
        other.cookies.set("dnf_session", value)
        assert other.get("/", follow_redirects=False).status_code == 303, value
        assert other.get("/api/v1/compilations").status_code == 401, value


def test_revoking_the_key_ends_its_sessions(dash):
    engine = make_engine(dash.settings)
    sessions = make_sessionmaker(engine)
    with sessions() as s:
        carol = create_user(session=s, name="carol")
        _, key = create_api_key(session=s, user=carol)
    b, _ = dash.signed_in(key)
    assert b.get("/api/v1/compilations").status_code == 200
    with sessions() as s:
        s.execute(update(ApiKey).where(ApiKey.prefix == key[:10]).values(revoked_at=utcnow()))
        s.commit()
    engine.dispose()
    assert b.get("/", follow_redirects=False).status_code == 303
    assert b.get("/api/v1/compilations").status_code == 401


def test_a_signed_in_browser_skips_the_signin_form(dash):
    b, token = dash.signed_in(dash.alice)
    assert page_token(b.get("/devices").text) == token
    r = b.get("/signin", follow_redirects=False)
    assert (r.status_code, r.headers["location"]) == (303, "/")
