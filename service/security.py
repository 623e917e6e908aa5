"""API keys: a random token shown once, stored as its sha256.

A 32-byte random token has enough entropy that a fast hash is the right choice (no salt or slow
KDF is needed, and lookups stay a single indexed equality).
"""

from __future__ import annotations

import hashlib
import secrets

KEY_KINDS = ("user", "agent")
_PREFIXES = {"user": "dnf_", "agent": "dnfa_"}


def hash_key(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def new_key(kind: str) -> tuple[str, str]:
    """Return ``(token, key_hash)`` for a fresh key of ``kind``."""
    if kind not in KEY_KINDS:
        raise ValueError(f"unknown key kind {kind!r}; expected one of {KEY_KINDS}")
    token = _PREFIXES[kind] + secrets.token_urlsafe(32)
    return token, hash_key(token)
