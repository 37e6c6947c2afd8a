"""Photo storage behind one interface: local files or any S3-compatible store, chosen by config.

``get_storage()`` returns the app's single backend (kept in ``app.extensions["storage"]``);
``STORAGE_BACKEND`` picks ``local`` (files under ``UPLOAD_DIR``, served by a signed route) or
``s3`` (boto3, presigned GETs). Callers only use put/get/delete/exists/url.
"""

from __future__ import annotations

import re
from typing import Protocol

from flask import Flask, current_app

EXTENSION_KEY = "storage"

# Keys are relative paths of plain segments. No segment may start with a dot: that rules out
# "." and "..", hidden files, and the local backend's private ".meta" tree.
_SEGMENT = r"[A-Za-z0-9_-][A-Za-z0-9._-]{0,127}"
_KEY_RE = re.compile(rf"{_SEGMENT}(/{_SEGMENT}){{0,7}}")
MAX_KEY_LENGTH = 512


class StorageError(Exception):
    """The backend failed (unreachable, refused, disk full); the caller may retry later."""


class InvalidKey(ValueError):
    """A key that could escape the storage root or is otherwise malformed (a bug, not an outage)."""


class ObjectNotFound(StorageError, KeyError):
    """No object under this key."""


class Storage(Protocol):
    """What every backend offers."""

    def put(self, key: str, data: bytes, content_type: str) -> None:
        """Store ``data`` under ``key`` (replacing any previous object), privately."""

    def get(self, key: str) -> bytes:
        """The object's bytes; ObjectNotFound if absent."""

    def delete(self, key: str) -> None:
        """Remove the object; absent objects are not an error."""

    def exists(self, key: str) -> bool:
        """True if an object is stored under ``key``."""

    def url(self, key: str, ttl_seconds: int) -> str:
        """A URL a browser can fetch for ``ttl_seconds``, then refused."""


def check_key(key: str) -> str:
    """Return ``key`` if it is a safe relative key, else raise InvalidKey."""
    if not isinstance(key, str) or len(key) > MAX_KEY_LENGTH or not _KEY_RE.fullmatch(key):
        raise InvalidKey(f"invalid storage key: {key!r}")
    return key


def build_storage(app: Flask) -> Storage:
    """Create the backend named by STORAGE_BACKEND from the app's config."""
    cfg = app.config
    backend = cfg.get("STORAGE_BACKEND", "local")
    if backend == "local":
        # only the configured backend's module loads (boto3 is imported for S3 alone)
        from app.storage.local import LocalStorage

        return LocalStorage(
            cfg["UPLOAD_DIR"],
            secret_key=cfg["SECRET_KEY"],
            base_url=f"{cfg['PUBLIC_BASE_URL']}/media/file/",
        )
    if backend == "s3":
        # see above
        from app.storage.s3 import S3Storage

        return S3Storage.from_config(cfg)
    raise RuntimeError(f"STORAGE_BACKEND must be 'local' or 's3', got {backend!r}")


def get_storage(app: Flask | None = None) -> Storage:
    """The app's storage backend, created on first use and kept in app.extensions."""
    app = app or current_app._get_current_object()  # type: ignore[attr-defined]
    storage = app.extensions.get(EXTENSION_KEY)
    if storage is None:
        storage = build_storage(app)
        app.extensions[EXTENSION_KEY] = storage
    return storage
