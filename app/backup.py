"""``flask backup create DIR`` and ``flask backup restore DIR``: the database and the stored files.

A backup is a directory (created 0700: it holds citizens' personal data)::

    database.sql       MariaDB: mariadb-dump --single-transaction (one consistent snapshot,
                       without locking the tables the app writes)
    database.sqlite3   SQLite: a copy through SQLite's online backup API (consistent while the app
                       writes)
    files/<key>        every stored object: the local UPLOAD_DIR or the whole S3 bucket
    manifest.json      written last: the database's kind and Alembic revision, and every file's
                       key, content type, size and SHA-256

The database is saved before the files, so every file a saved row names is in the backup (files
are stored before the row that names them is committed). A directory without its manifest is an
unfinished backup, and restore refuses it.

``restore`` checks every checksum first, then loads the database into the configured database,
which must be empty (a fresh one: create it first), and puts the files into the configured
storage, local or S3, whichever the backup came from. Redis (rate limits, the WeChat token cache)
and derived files (the classifier model, the change board) are not saved: they rebuild.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import sqlite3
import subprocess
import tempfile
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import click
from flask import Flask, current_app
from flask.cli import AppGroup
from sqlalchemy import inspect, text
from sqlalchemy.engine import URL

from app.extensions import db
from app.storage import InvalidKey, check_key, get_storage

FORMAT = 1
MANIFEST = "manifest.json"
FILES = "files"
SQLITE_FILE = "database.sqlite3"
MARIADB_FILE = "database.sql"
DUMP_DONE = b"-- Dump completed"  # mariadb-dump's last line: the dump was not cut short
CHUNK = 1024 * 1024

backup_cli = AppGroup("backup", help="Back up and restore the database and the stored files.")


class BackupError(Exception):
    """The backup or restore cannot be done; the message says why."""


# ------------------------------------------------------------------------------------ create


def create_backup(target: Path) -> dict[str, Any]:
    """Write a backup of the app's database and stored files into ``target`` (absent or
    empty); returns the manifest."""
    target = Path(target)
    if target.exists() and (not target.is_dir() or any(target.iterdir())):
        raise BackupError(f"{target} must be an empty directory or not exist")
    target.mkdir(mode=0o700, parents=True, exist_ok=True)
    url = db.engine.url
    dialect = _dialect(url)
    revision = db.session.scalar(text("SELECT version_num FROM alembic_version"))
    db.session.rollback()  # no transaction of ours stays open while the dump runs
    if dialect == "sqlite":
        database = _sqlite_backup(target / SQLITE_FILE)
    else:
        database = _mariadb_dump(url, target / MARIADB_FILE)
    files = list(_save_files(target / FILES))
    manifest = {
        "format": FORMAT,
        "created_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "dialect": dialect,
        "alembic_revision": revision,
        "database": {"name": database.name, **_digest(database)},
        "storage": current_app.config["STORAGE_BACKEND"],
        "files": files,
    }
    partial = target / f".{MANIFEST}.part"
    partial.write_text(json.dumps(manifest, ensure_ascii=False, indent=1), "utf-8")
    partial.replace(target / MANIFEST)
    return manifest


def _dialect(url: URL) -> str:
    """sqlite or mariadb (MariaDB and MySQL URLs alike)."""
    name = url.get_backend_name()
    if name == "sqlite":
        return "sqlite"
    if name in {"mysql", "mariadb"}:
        return "mariadb"
    raise BackupError(f"backups support SQLite and MariaDB, not {name}")


def _sqlite_backup(path: Path) -> Path:
    """Copy the live database through SQLite's online backup API."""
    raw = db.engine.raw_connection()
    try:
        with sqlite3.connect(path) as copy:
            raw.driver_connection.backup(copy)
        copy.close()
    finally:
        raw.close()
    return path


def _mariadb_dump(url: URL, path: Path) -> Path:
    """mariadb-dump of the app's database into ``path`` (one consistent snapshot)."""
    dump = shutil.which("mariadb-dump") or shutil.which("mysqldump")
    if dump is None:
        raise BackupError("mariadb-dump is not installed (Debian: apt-get install mariadb-client)")
    options = ["--single-transaction", "--quick", "--routines", "--triggers", "--hex-blob",
               "--default-character-set=utf8mb4", "--no-tablespaces"]  # fmt: skip
    with _ClientOptions(url) as defaults, path.open("wb") as out:
        done = subprocess.run(  # noqa: S603 - fixed program, arguments from our own settings
            [dump, f"--defaults-extra-file={defaults}", *options, url.database or ""],
            stdout=out,
            stderr=subprocess.PIPE,
            check=False,
        )
    if done.returncode != 0:
        raise BackupError(f"mariadb-dump failed: {done.stderr.decode(errors='replace').strip()}")
    with path.open("rb") as dumped:
        dumped.seek(max(0, path.stat().st_size - 200))
        if DUMP_DONE not in dumped.read():
            raise BackupError("mariadb-dump stopped before the end of the dump")
    return path


class _ClientOptions:
    """A private option file for the MariaDB client programs: the password never appears in
    the process list (as ``-p`` would) or in the environment (as MYSQL_PWD would)."""

    def __init__(self, url: URL) -> None:
        self.url = url
        self.folder = tempfile.TemporaryDirectory(prefix="zhcg-backup-")

    def __enter__(self) -> str:
        settings = {"user": self.url.username, "password": self.url.password,
                    "host": self.url.host, "port": self.url.port,
                    "socket": self.url.query.get("unix_socket")}  # fmt: skip
        lines = ["[client]"] + [
            f'{name}="{_quote(str(value))}"' for name, value in settings.items() if value
        ]
        path = Path(self.folder.name) / "client.cnf"
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write("\n".join(lines) + "\n")
        return str(path)

    def __exit__(self, *exc: object) -> None:
        self.folder.cleanup()


def _quote(value: str) -> str:
    """A value inside double quotes of a MariaDB option file."""
    return value.replace("\\", "\\\\").replace('"', '\\"')


def _save_files(folder: Path) -> Iterator[dict[str, Any]]:
    """Copy every stored object into ``folder``; yields each one's manifest entry."""
    folder.mkdir(mode=0o700)
    for key, content_type, chunks in _stored_objects():
        path = folder / key
        path.parent.mkdir(parents=True, exist_ok=True)
        with path.open("wb") as out:
            for chunk in chunks:
                out.write(chunk)
        yield {"key": key, "content_type": content_type, **_digest(path)}


def _stored_objects() -> Iterator[tuple[str, str, Iterator[bytes]]]:
    """(key, content type, the bytes in chunks) of every object in the app's storage."""
    storage = get_storage()
    if current_app.config["STORAGE_BACKEND"] == "s3":
        pages = storage.client.get_paginator("list_objects_v2").paginate(Bucket=storage.bucket)
        for page in pages:
            for item in page.get("Contents", []):
                if _valid_key(item["Key"]):
                    obj = storage.client.get_object(Bucket=storage.bucket, Key=item["Key"])
                    yield item["Key"], obj["ContentType"], obj["Body"].iter_chunks(CHUNK)
        return
    root = storage.root
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames[:] = sorted(d for d in dirnames if not d.startswith("."))  # .meta, temp folders
        for name in sorted(filenames):
            path = Path(dirpath) / name
            key = path.relative_to(root).as_posix()
            if not path.is_symlink() and _valid_key(key):  # skips the .tmp- files of a write
                yield key, storage.content_type(key), _read_chunks(path)


def _valid_key(key: str) -> bool:
    try:
        check_key(key)
    except InvalidKey:
        return False
    return True


def _read_chunks(path: Path) -> Iterator[bytes]:
    with path.open("rb") as fh:
        while chunk := fh.read(CHUNK):
            yield chunk


def _digest(path: Path) -> dict[str, Any]:
    """Size and SHA-256 of a file."""
    sha = hashlib.sha256()
    for chunk in _read_chunks(path):
        sha.update(chunk)
    return {"size": path.stat().st_size, "sha256": sha.hexdigest()}


# ----------------------------------------------------------------------------------- restore


def restore_backup(source: Path) -> dict[str, Any]:
    """Load the backup in ``source`` into the app's (empty) database and its storage; returns
    the manifest."""
    source = Path(source)
    manifest = _verified_manifest(source)
    url = db.engine.url
    if manifest["dialect"] != _dialect(url):
        raise BackupError(
            f"this backup is of a {manifest['dialect']} database; "
            f"the configured database is {_dialect(url)}"
        )
    db.session.rollback()
    try:
        tables = inspect(db.engine).get_table_names()
    except Exception as exc:  # noqa: BLE001 - unreachable or missing database: say so
        raise BackupError(f"cannot open the target database: {exc}") from exc
    if tables:
        raise BackupError(
            f"the target database is not empty ({len(tables)} tables): restore into a fresh one"
        )
    database = source / manifest["database"]["name"]
    if manifest["dialect"] == "sqlite":
        _sqlite_restore(database)
    else:
        _mariadb_load(url, database)
    db.engine.dispose()  # connections opened before the load may have cached the old schema
    storage = get_storage()
    for entry in manifest["files"]:
        data = (source / FILES / entry["key"]).read_bytes()
        storage.put(entry["key"], data, entry["content_type"])
    return manifest


def _verified_manifest(source: Path) -> dict[str, Any]:
    """The manifest, after checking the database file and every stored file against it."""
    try:
        manifest = json.loads((source / MANIFEST).read_text("utf-8"))
    except FileNotFoundError:
        raise BackupError(f"{source} has no {MANIFEST}: not a finished backup") from None
    if manifest.get("format") != FORMAT:
        raise BackupError(f"unknown backup format {manifest.get('format')!r}")
    expected = [(source / manifest["database"]["name"], manifest["database"])]
    for entry in manifest["files"]:
        check_key(entry["key"])  # a tampered manifest must not write outside the storage root
        expected.append((source / FILES / entry["key"], entry))
    for path, entry in expected:
        if not path.is_file() or _digest(path) != {
            "size": entry["size"],
            "sha256": entry["sha256"],
        }:
            raise BackupError(f"{path} is missing or damaged (size or SHA-256 differs)")
    return manifest


def _sqlite_restore(path: Path) -> None:
    """Copy the saved database into the configured one through the backup API."""
    raw = db.engine.raw_connection()
    try:
        with sqlite3.connect(path) as saved:
            saved.backup(raw.driver_connection)
        saved.close()
    finally:
        raw.close()


def _mariadb_load(url: URL, path: Path) -> None:
    """Run the dump into the configured database with the MariaDB client."""
    client = shutil.which("mariadb") or shutil.which("mysql")
    if client is None:
        raise BackupError("the mariadb client is not installed (apt-get install mariadb-client)")
    with _ClientOptions(url) as defaults, path.open("rb") as dump:
        done = subprocess.run(  # noqa: S603 - fixed program, arguments from our own settings
            [
                client,
                f"--defaults-extra-file={defaults}",
                "--default-character-set=utf8mb4",
                "--binary-mode",
                url.database or "",
            ],  # fmt: skip
            stdin=dump,
            stderr=subprocess.PIPE,
            stdout=subprocess.DEVNULL,
            check=False,
        )
    if done.returncode != 0:
        raise BackupError(
            f"loading the dump failed: {done.stderr.decode(errors='replace').strip()}"
        )


# ---------------------------------------------------------------------------------- commands


def _size(n: int) -> str:
    return f"{n / 1024 / 1024:.1f} MiB" if n >= 1024 * 1024 else f"{n / 1024:.1f} KiB"


@backup_cli.command("create")
@click.argument("directory", type=click.Path(file_okay=False, path_type=Path))
def create_command(directory: Path) -> None:
    """Back up the database and every stored file into DIRECTORY (absent or empty)."""
    try:
        manifest = create_backup(directory)
    except BackupError as exc:
        raise click.ClickException(str(exc)) from None
    total = sum(entry["size"] for entry in manifest["files"])
    click.echo(
        f"backup written to {directory}: {manifest['dialect']} database "
        f"({_size(manifest['database']['size'])}, revision {manifest['alembic_revision']}), "
        f"{len(manifest['files'])} files ({_size(total)})"
    )


@backup_cli.command("restore")
@click.argument("directory", type=click.Path(exists=True, file_okay=False, path_type=Path))
def restore_command(directory: Path) -> None:
    """Restore the backup in DIRECTORY into the configured (empty) database and storage."""
    try:
        manifest = restore_backup(directory)
    except BackupError as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(
        f"restored {manifest['dialect']} database (revision {manifest['alembic_revision']}) "
        f"and {len(manifest['files'])} files from {directory}"
    )


def register(app: Flask) -> None:
    """Attach ``flask backup``."""
    app.cli.add_command(backup_cli)
