"""Redirect targets that cannot leave the site."""

from __future__ import annotations

from urllib.parse import urlsplit


def safe_next(target: str | None, default: str = "/") -> str:
    """``target`` if it is a path inside this site, else ``default`` (no open redirects)."""
    if not target or len(target) > 2000:
        return default
    if any(ord(ch) < 0x20 or ch == "\\" for ch in target):
        return default
    if not target.startswith("/") or target.startswith("//"):
        return default
    parts = urlsplit(target)
    if parts.scheme or parts.netloc:
        return default
    return target
