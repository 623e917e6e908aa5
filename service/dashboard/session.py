"""Dashboard sessions: a signed cookie after signing in with an API key, and CSRF tokens.

The session cookie ``dnf_session`` is ``v1.<user id>.<key id>.<expires>.<nonce>.<mac>``: the
user, the API key used to sign in (revoking that key ends the session at once), the expiry
(Unix seconds, ``session_max_age_s`` after sign-in), a random nonce, and an HMAC-SHA256 of all
of it with the server's secret. It is HttpOnly, SameSite=Strict, path ``/`` and Secure when
the request came over https.

CSRF: a request authenticated by that cookie that changes state (anything but GET, HEAD,
OPTIONS) must carry the session's token (HMAC of its nonce) in the ``X-CSRF-Token`` header, or
the form field ``csrf_token``. The sign-in form has its own token, bound to a random
pre-session cookie ``dnf_signin`` (login CSRF). Requests with an ``X-API-Key`` header never use
the cookie and need no token.

The secret is ``settings.session_secret`` (at least 32 characters), else a random key kept in
``<storage root>/session.key`` (created once, mode 0600; the storage directory is the one place
every API process may write, and all of them share it).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
import secrets
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

from fastapi import HTTPException, Request, Response
from sqlalchemy.orm import Session

from dnfstore.models import ApiKey, User
from dnfstore.settings import Settings

SESSION_COOKIE = "dnf_session"
SIGNIN_COOKIE = "dnf_signin"
CSRF_HEADER = "X-CSRF-Token"
CSRF_FIELD = "csrf_token"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
SIGNIN_MAX_AGE_S = 3600
_VERSION = "v1"
_MIN_SECRET = 32


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii")


def _read_or_create_key(path: Path) -> bytes:
    if not path.is_file():
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as f:
            f.write(secrets.token_urlsafe(48))
        try:
            os.link(tmp, path)  # first writer wins; a racing process reads the winner's key
        except FileExistsError:
            pass
        finally:
            tmp.unlink(missing_ok=True)
    return path.read_text().strip().encode("utf-8")


def load_secret(settings: Settings) -> bytes:
    """The cookie-signing key (bytes). Raises ``ValueError`` for a configured key under 32
    characters."""
    if settings.session_secret:
        if len(settings.session_secret) < _MIN_SECRET:
            raise ValueError(f"DNNFUSION_SESSION_SECRET must have at least {_MIN_SECRET} "
                             "characters")
        return settings.session_secret.encode("utf-8")
    return _read_or_create_key(settings.storage_root / "session.key")


def _mac(secret: bytes, purpose: str, text: str) -> str:
    return _b64(hmac.new(secret, f"{purpose}|{text}".encode(), hashlib.sha256).digest())


@dataclass(frozen=True)
class DashboardSession:
    """A verified session cookie: whose it is and its CSRF token."""

    user: User
    csrf_token: str


class Sessions:
    """Makes and checks session cookies and CSRF tokens with one secret."""

    def __init__(self, secret: bytes, max_age_s: int) -> None:
        self._secret = secret
        self.max_age_s = max_age_s

    # ---- the session cookie ----------------------------------------------------------------

    def new_cookie(self, user_id: uuid.UUID, key_id: uuid.UUID) -> str:
        expires = int(time.time()) + self.max_age_s
        payload = f"{_VERSION}.{user_id.hex}.{key_id.hex}.{expires}.{secrets.token_hex(16)}"
        return f"{payload}.{_mac(self._secret, 'session', payload)}"

    def _parse(self, cookie: str) -> tuple[uuid.UUID, uuid.UUID, str] | None:
        parts = cookie.split(".")
        if len(parts) != 6 or parts[0] != _VERSION or len(cookie) > 200:
            return None
        payload, mac = ".".join(parts[:5]), parts[5]
        if not hmac.compare_digest(mac, _mac(self._secret, "session", payload)):
            return None
        try:
            user_id, key_id, expires = uuid.UUID(parts[1]), uuid.UUID(parts[2]), int(parts[3])
        except ValueError:
            return None
        if expires <= time.time():
            return None
        return user_id, key_id, parts[4]

    def verify(self, db: Session, cookie: str | None) -> DashboardSession | None:
        """The session a cookie value stands for, or None (absent, forged, expired, or its
        API key revoked or not a user key)."""
        parsed = self._parse(cookie) if cookie else None
        if parsed is None:
            return None
        user_id, key_id, nonce = parsed
        key = db.get(ApiKey, key_id)
        if key is None or key.user_id != user_id or key.kind != "user" or key.revoked_at:
            return None
        user = db.get(User, user_id)
        if user is None:
            return None
        return DashboardSession(user=user, csrf_token=_mac(self._secret, "csrf", nonce))

    # ---- the sign-in form's token ----------------------------------------------------------

    def signin_token(self, nonce: str) -> str:
        return _mac(self._secret, "signin", nonce)

    def signin_ok(self, nonce: str | None, token: str | None) -> bool:
        if not nonce or not token or len(nonce) > 100:
            return False
        return hmac.compare_digest(token, self.signin_token(nonce))


def sessions_of(request: Request) -> Sessions:
    return request.app.state.dashboard_sessions


def check_csrf(request: Request, expected: str, form_token: str | None = None) -> None:
    """403 unless the request carries ``expected`` in the header or the form field."""
    given = request.headers.get(CSRF_HEADER) or form_token or ""
    if not hmac.compare_digest(given.encode("utf-8", "replace"), expected.encode("utf-8")):
        raise HTTPException(403, "missing or wrong CSRF token; reload the page and try again")


def cookie_user(request: Request, db: Session) -> User | None:
    """The user of a valid session cookie, for the JSON API; None without one. A
    state-changing request must carry the session's CSRF token in ``X-CSRF-Token`` (403)."""
    found = sessions_of(request).verify(db, request.cookies.get(SESSION_COOKIE))
    db.commit()  # a short transaction: an upload may stream for minutes after this
    if found is None:
        return None
    if request.method not in SAFE_METHODS:
        check_csrf(request, found.csrf_token)
    return found.user


def is_https(request: Request) -> bool:
    return request.url.scheme == "https"


def set_session_cookie(response: Response, request: Request, value: str, max_age: int) -> None:
    response.set_cookie(
        SESSION_COOKIE, value, max_age=max_age, path="/", httponly=True,
        samesite="strict", secure=is_https(request),
    )


def clear_session_cookie(response: Response, request: Request) -> None:
    response.delete_cookie(
        SESSION_COOKIE, path="/", httponly=True, samesite="strict", secure=is_https(request)
    )
