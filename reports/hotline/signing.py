"""The signature both sides of the 12345 link use, and the order's canonical digest.

A request carries three headers:

- ``X-Hotline-Platform``: the platform's id (HOTLINE_PLATFORM_ID);
- ``X-Hotline-Timestamp``: Unix seconds when it was signed;
- ``X-Hotline-Signature``: HMAC-SHA256 with the shared secret (HOTLINE_SECRET) over the bytes
  ``timestamp + "\\n" + raw body``, as 64 lower- or upper-case hex digits or as standard
  base64 (44 characters with padding). We send hex.

A timestamp further than HOTLINE_MAX_SKEW_SECONDS from the receiver's clock is refused (a
replayed request is stale within minutes; the order id makes a replay inside the window
harmless).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import time
from typing import Any

PLATFORM_HEADER = "X-Hotline-Platform"
TIMESTAMP_HEADER = "X-Hotline-Timestamp"
SIGNATURE_HEADER = "X-Hotline-Signature"


def digest(secret: str, timestamp: str, body: bytes) -> bytes:
    """The raw HMAC-SHA256 over ``timestamp + "\\n" + body``."""
    message = timestamp.encode("ascii") + b"\n" + body
    return hmac.new(secret.encode("utf-8"), message, hashlib.sha256).digest()


def sign(secret: str, body: bytes, *, platform: str, timestamp: int | None = None,
         encoding: str = "hex") -> dict[str, str]:  # fmt: skip
    """The headers of a signed request with ``body`` (hex, or base64 with ``encoding``)."""
    ts = str(int(time.time()) if timestamp is None else timestamp)
    raw = digest(secret, ts, body)
    signature = raw.hex() if encoding == "hex" else base64.b64encode(raw).decode("ascii")
    return {PLATFORM_HEADER: platform, TIMESTAMP_HEADER: ts, SIGNATURE_HEADER: signature}


def decode_signature(text: str) -> bytes | None:
    """The 32 bytes a hex or base64 signature stands for, or None if it is neither."""
    text = text.strip()
    try:
        if len(text) == 64:
            return bytes.fromhex(text)
        raw = base64.b64decode(text, validate=True)
    except (ValueError, binascii.Error):
        return None
    return raw if len(raw) == 32 else None


class SignatureProblem(Exception):
    """Why a request's signature is refused: ``code`` is missing, stale or bad."""

    def __init__(self, code: str) -> None:
        super().__init__(code)
        self.code = code


def verify(secret: str, headers: Any, body: bytes, max_skew: int, now: float | None = None) -> str:
    """Check a request's timestamp and signature; returns the platform id it names. Raises
    SignatureProblem("missing" | "stale" | "bad"). The comparison takes constant time."""
    platform = (headers.get(PLATFORM_HEADER) or "").strip()
    ts = (headers.get(TIMESTAMP_HEADER) or "").strip()
    given = (headers.get(SIGNATURE_HEADER) or "").strip()
    if not ts or not given:
        raise SignatureProblem("missing")
    if not ts.isdigit() or len(ts) > 12:
        raise SignatureProblem("stale")
    if abs((time.time() if now is None else now) - int(ts)) > max_skew:
        raise SignatureProblem("stale")
    raw = decode_signature(given)
    expected = digest(secret, ts, body)
    # Compared even when the signature did not decode, so timing says nothing about the format.
    if not hmac.compare_digest(expected, raw if raw is not None else bytes(32)) or raw is None:
        raise SignatureProblem("bad")
    return platform


def canonical_sha256(data: Any) -> str:
    """SHA-256 of the JSON value with sorted keys and no spaces: two bodies saying the same
    thing in another layout have the same digest."""
    text = json.dumps(data, ensure_ascii=False, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(text.encode("utf-8")).hexdigest()
