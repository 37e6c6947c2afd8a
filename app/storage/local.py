"""Local file backend: private files under UPLOAD_DIR, atomic writes, signed expiring URLs.

Files never sit under /static: a browser reaches one only through ``/media/file/<token>``, where the
token is signed with SECRET_KEY (itsdangerous) and carries its own expiry. The content type given to
``put`` is kept beside the file in a ``.meta`` tree that no key can reach (keys cannot start with a
dot), so the route answers with the type the uploader's content was validated as.
"""

from __future__ import annotations

import os
import tempfile
import time
from pathlib import Path

from itsdangerous import BadSignature, URLSafeSerializer

from app.storage import InvalidKey, ObjectNotFound, StorageError, check_key

URL_SALT = "media-file-url"  # itsdangerous namespace, not a secret
META_DIR = ".meta"
DEFAULT_CONTENT_TYPE = "application/octet-stream"


class TokenExpired(Exception):
    """A genuine URL token whose time is up."""


class TokenInvalid(Exception):
    """A token we did not sign (tampered, truncated, or for another key)."""


class LocalStorage:
    """Files in a private folder; see the module docstring."""

    def __init__(self, root: str | os.PathLike[str], *, secret_key: str, base_url: str) -> None:
        self.root = Path(root).resolve()
        self.base_url = base_url
        self._signer = URLSafeSerializer(secret_key, salt=URL_SALT)

    # -- paths -----------------------------------------------------------------------------
    def path_for(self, key: str) -> Path:
        """The file for ``key``; InvalidKey if it would land outside the root (symlinks too)."""
        path = (self.root / check_key(key)).resolve()
        if not path.is_relative_to(self.root) or path == self.root:
            raise InvalidKey(f"invalid storage key: {key!r}")
        return path

    def _meta_path(self, key: str) -> Path:
        return self.root / META_DIR / check_key(key)

    # -- interface -------------------------------------------------------------------------
    def put(self, key: str, data: bytes, content_type: str) -> None:
        """Write atomically: a temp file in the same folder, fsync, then rename over the target."""
        path = self.path_for(key)
        try:
            _atomic_write(path, data)
            _atomic_write(self._meta_path(key), content_type.encode("ascii"))
        except OSError as exc:
            raise StorageError(f"cannot write {key!r}: {exc}") from exc

    def get(self, key: str) -> bytes:
        """The file's bytes."""
        try:
            return self.path_for(key).read_bytes()
        except (FileNotFoundError, IsADirectoryError, NotADirectoryError):
            raise ObjectNotFound(key) from None
        except OSError as exc:
            raise StorageError(f"cannot read {key!r}: {exc}") from exc

    def delete(self, key: str) -> None:
        """Remove the file and its content type; missing files are fine."""
        for path in (self.path_for(key), self._meta_path(key)):
            try:
                path.unlink(missing_ok=True)
            except OSError as exc:
                raise StorageError(f"cannot delete {key!r}: {exc}") from exc

    def exists(self, key: str) -> bool:
        """True if the file exists."""
        return self.path_for(key).is_file()

    def url(self, key: str, ttl_seconds: int) -> str:
        """A signed link to the serving route, valid for ``ttl_seconds``."""
        check_key(key)
        token = self._signer.dumps({"k": key, "e": int(time.time()) + int(ttl_seconds)})
        return f"{self.base_url}{token}"

    # -- serving ---------------------------------------------------------------------------
    def content_type(self, key: str) -> str:
        """The content type recorded by ``put``."""
        try:
            return self._meta_path(key).read_text("ascii").strip() or DEFAULT_CONTENT_TYPE
        except (OSError, UnicodeDecodeError):
            return DEFAULT_CONTENT_TYPE

    def resolve_token(self, token: str) -> tuple[str, int]:
        """(key, expiry as a Unix time) of a token we signed; TokenInvalid / TokenExpired else."""
        try:
            payload = self._signer.loads(token)
            key, expires = check_key(payload["k"]), int(payload["e"])
        except (BadSignature, InvalidKey, KeyError, TypeError, ValueError):
            raise TokenInvalid() from None
        if time.time() >= expires:
            raise TokenExpired()
        return key, expires


def _atomic_write(path: Path, data: bytes) -> None:
    """Readers see the old file or the new one, never half of it; files are 0600."""
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o750)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".tmp-", suffix=".part")
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
