"""Machine keys (cameras, parking feeds): ``Authorization: Bearer <prefix>...``, of which only the
SHA-256 is stored. One place issues them and reads them from a request."""

from __future__ import annotations

import hashlib
import hmac
import secrets

from flask import request

from app.errors import Unauthorized


def digest(key: str) -> str:
    """What is stored of a key."""
    return hashlib.sha256(key.encode()).hexdigest()


def issue(prefix: str) -> tuple[str, str]:
    """A new key with this prefix and its digest (show the key once, store the digest)."""
    key = prefix + secrets.token_urlsafe(32)
    return key, digest(key)


def presented(prefix: str, message: str, code: str) -> str:
    """The digest of the bearer key in this request; Unauthorized(message, code) if there is none
    of this kind."""
    scheme, _, key = request.headers.get("Authorization", "").partition(" ")
    key = key.strip()
    if scheme.lower() != "bearer" or not key.startswith(prefix):
        raise Unauthorized(message, code=code)
    return digest(key)


def matches(stored: str | None, presented_digest: str) -> bool:
    """Constant-time comparison of a stored digest with a presented one."""
    return stored is not None and hmac.compare_digest(stored, presented_digest)
