"""The newest committed facility change number, shared by every process on the host.

A writer publishes its transaction's number after the commit into an 8-byte file
(``NEARBY_SEQ_FILE``, in the instance folder) under an exclusive lock, never lowering it. Every
process maps the file and reads it on each nearest-search query (a fraction of a microsecond),
so another gunicorn worker, a CLI import or a feed update is seen on the very next query.
Processes on other hosts do not share the file: the index also asks the database for the newest
number every ``NEARBY_SYNC_SECONDS`` (1 s), which bounds the lag for them.
"""

from __future__ import annotations

import fcntl
import mmap
import os
import struct
import threading
from pathlib import Path

from flask import current_app, has_app_context

_maps: dict[str, mmap.mmap] = {}
_lock = threading.Lock()


def _path() -> Path:
    return Path(current_app.config["NEARBY_SEQ_FILE"])


def _open(path: Path) -> int:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    if os.fstat(fd).st_size < 8:
        os.ftruncate(fd, 8)
    return fd


def publish(seq: int) -> None:
    """Raise the shared number to ``seq`` (a no-op if it is already as high)."""
    if has_app_context():
        publish_to(_path(), seq)


def publish_to(path: Path, seq: int) -> None:
    """Raise the number in the file at ``path`` to ``seq``."""
    fd = _open(path)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        current = struct.unpack("<q", os.pread(fd, 8, 0))[0]
        if seq > current:
            os.pwrite(fd, struct.pack("<q", seq), 0)
    finally:
        os.close(fd)


def reader(path: Path):
    """A function returning the shared number, reading a map of the file held by the process."""
    key = str(path)
    with _lock:
        mapped = _maps.get(key)
        if mapped is None:
            fd = _open(path)
            try:
                mapped = _maps[key] = mmap.mmap(fd, 8, access=mmap.ACCESS_READ)
            finally:
                os.close(fd)
    unpack = struct.Struct("<q").unpack_from
    return lambda: unpack(mapped, 0)[0]
