"""flask backup create / restore: data and stored files come back in a FRESH database and storage.

On SQLite always; on MariaDB (TEST_DATABASE_URL) the source is a fresh database and the target
another one this test creates, so the dump really goes through mariadb-dump and the client.
"""

from __future__ import annotations

import json
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from flask import Flask
from flask_migrate import upgrade
from sqlalchemy import func, inspect, select, text

from app import create_app
from app.auth import service as auth_service
from app.auth.models import Department, Role, StaffUser, WechatApp
from app.db import commit
from app.extensions import db
from app.media.models import Media
from app.media.service import store_upload
from app.storage import get_storage
from app.storage.s3 import S3Storage
from tests.conftest import scratch_database

DEPARTMENT = "铁西区城管局 🚧"  # four-byte characters must survive the dump (utf8mb4)


@pytest.fixture
def fresh_db_url(tmp_path, live_db_url) -> Iterator[str]:
    """A second empty database to restore into: a new MariaDB database, or a new SQLite file."""
    with scratch_database(tmp_path, "restore") as url:
        yield url


@pytest.fixture
def build(tmp_path) -> Iterator:
    """Factory: an app on a database URL with its own upload folder; engines disposed after."""
    apps: list[Flask] = []

    def make(url: str, name: str, **settings) -> Flask:
        app = create_app("testing", {"SQLALCHEMY_DATABASE_URI": url,
                                     "UPLOAD_DIR": str(tmp_path / name / "uploads"),
                                     "CHANGES_FILE": str(tmp_path / name / "changes.bin"),
                                     **settings})  # fmt: skip
        apps.append(app)
        return app

    yield make
    for app in apps:
        with app.app_context():
            db.session.remove()
            db.engine.dispose()


def seed(app: Flask, image: bytes) -> dict:
    """A department, a staff account in it, a citizen and the citizen's stored photo."""
    with app.app_context():
        upgrade()
        dept = Department(code="SY-210106", name=DEPARTMENT, kind="bureau")
        db.session.add(dept)
        db.session.flush()
        auth_service.create_staff("tiexi", "correct-horse-battery", [Role.HANDLER.value],
                                  department_code=dept.code, actor_label="test")  # fmt: skip
        citizen, _ = auth_service.citizen_from_wechat(
            WechatApp.MINIPROGRAM, app.config["WECHAT_MINI_APP_ID"], "o-backup-1"
        )
        media = store_upload(image, citizen)
        commit()
        stored = get_storage().get(media.storage_key)
        return {"key": media.storage_key, "bytes": stored, "type": media.content_type}


def run(app: Flask, *args: str):
    """``flask <args>`` on ``app`` (its context pushed: the runner would otherwise use the
    session app's, which the per-test fixture keeps pushed)."""
    with app.app_context():
        return app.test_cli_runner().invoke(args=list(args))


def test_backup_restores_rows_and_files_into_a_fresh_database(
    build, live_db_url, fresh_db_url, tmp_path, make_image
):
    source = build(live_db_url, "source")
    photo = seed(source, make_image("JPEG", size=(64, 48)))
    backup_dir = tmp_path / "backup"

    created = run(source, "backup", "create", str(backup_dir))
    assert created.exit_code == 0, created.output
    assert "1 files" in created.output
    assert oct(backup_dir.stat().st_mode & 0o777) == "0o700"
    manifest = json.loads((backup_dir / "manifest.json").read_text())
    assert [f["key"] for f in manifest["files"]] == [photo["key"]]

    target = build(fresh_db_url, "target")
    restored = run(target, "backup", "restore", str(backup_dir))
    assert restored.exit_code == 0, restored.output

    with target.app_context():
        staff = db.session.scalar(select(StaffUser).where(StaffUser.username == "tiexi"))
        assert staff is not None and staff.department.name == DEPARTMENT
        assert auth_service.authenticate_staff("tiexi", "correct-horse-battery") == staff
        media = db.session.scalar(select(Media).where(Media.storage_key == photo["key"]))
        assert media is not None and media.user_id is not None
        assert get_storage().get(photo["key"]) == photo["bytes"]
        assert get_storage().content_type(photo["key"]) == photo["type"]
        revision = db.session.scalar(text("SELECT version_num FROM alembic_version"))
        assert revision == manifest["alembic_revision"]
        # The restored database takes new rows (its auto-increment counters came along).
        dept = db.session.scalar(select(Department))
        db.session.add(Department(code="SY-NEW", name="新部门", parent=dept, kind="bureau"))
        commit()
        assert db.session.scalar(select(func.count()).select_from(Department)) == 2


def test_restore_refuses_a_database_that_is_not_empty(build, live_db_url, tmp_path, make_image):
    source = build(live_db_url, "source")
    seed(source, make_image())
    assert run(source, "backup", "create", str(tmp_path / "b")).exit_code == 0
    again = run(source, "backup", "restore", str(tmp_path / "b"))
    assert again.exit_code != 0
    assert "not empty" in again.output and "fresh" in again.output


def test_a_damaged_or_unfinished_backup_is_refused_before_anything_is_written(
    build, live_db_url, fresh_db_url, tmp_path, make_image
):
    source = build(live_db_url, "source")
    photo = seed(source, make_image())
    backup_dir = tmp_path / "b"
    assert run(source, "backup", "create", str(backup_dir)).exit_code == 0
    stored = backup_dir / "files" / photo["key"]
    stored.write_bytes(stored.read_bytes()[:-10] + b"0123456789")
    target = build(fresh_db_url, "target")
    damaged = run(target, "backup", "restore", str(backup_dir))
    assert damaged.exit_code != 0 and "damaged" in damaged.output
    (backup_dir / "manifest.json").unlink()
    unfinished = run(target, "backup", "restore", str(backup_dir))
    assert unfinished.exit_code != 0 and "not a finished backup" in unfinished.output
    with target.app_context():
        assert db.session.execute(text("SELECT 1")).scalar() == 1
        assert inspect(db.engine).get_table_names() == []
    assert not (Path(target.config["UPLOAD_DIR"]) / photo["key"]).exists()


def test_create_refuses_a_directory_with_files_in_it(build, live_db_url, tmp_path, make_image):
    source = build(live_db_url, "source")
    seed(source, make_image())
    (tmp_path / "old").mkdir()
    (tmp_path / "old" / "manifest.json").write_text("{}")
    result = run(source, "backup", "create", str(tmp_path / "old"))
    assert result.exit_code != 0 and "empty directory" in result.output


def test_s3_objects_are_listed_downloaded_and_restored(
    build, live_db_url, fresh_db_url, tmp_path, make_image, s3_settings
):
    source = build(live_db_url, "source", STORAGE_BACKEND="s3", **s3_settings)
    photo = seed(source, make_image("PNG", size=(30, 30)))
    backup_dir = tmp_path / "b"
    assert run(source, "backup", "create", str(backup_dir)).exit_code == 0
    assert (backup_dir / "files" / photo["key"]).read_bytes() == photo["bytes"]

    bucket = f"zhcg-restore-{uuid.uuid4().hex[:8]}"
    S3Storage.from_config({**s3_settings, "S3_BUCKET": bucket}).client.create_bucket(Bucket=bucket)
    target = build(
        fresh_db_url, "target", STORAGE_BACKEND="s3", **{**s3_settings, "S3_BUCKET": bucket}
    )
    assert run(target, "backup", "restore", str(backup_dir)).exit_code == 0
    with target.app_context():
        storage = get_storage()
        assert storage.get(photo["key"]) == photo["bytes"]
        head = storage.client.head_object(Bucket=bucket, Key=photo["key"])
        assert head["ContentType"] == photo["type"] == "image/png"
        assert db.session.scalar(select(func.count()).select_from(Media)) == 1


def test_a_backup_taken_while_the_app_writes_holds_whole_transactions(
    build, live_db_url, fresh_db_url, tmp_path, make_image
):
    """Each write below commits a staff account and its role, two tables, in one transaction,
    while the backup runs; the restored copy must hold every account it holds with its role (a
    consistent snapshot, not tables copied at different moments)."""
    source = build(live_db_url, "source")
    seed(source, make_image())
    stop, written = threading.Event(), []

    def writer():
        while not stop.is_set():
            with source.app_context():
                auth_service.create_staff(f"pair{len(written)}", "correct-horse-battery",
                                          [Role.INSPECTOR.value], actor_label="test")  # fmt: skip
                commit()
            written.append(1)

    thread = threading.Thread(target=writer)
    thread.start()
    try:
        while len(written) < 5:
            time.sleep(0.01)
        created = run(source, "backup", "create", str(tmp_path / "b"))
    finally:
        stop.set()
        thread.join(timeout=60)
    assert created.exit_code == 0, created.output
    target = build(fresh_db_url, "target")
    assert run(target, "backup", "restore", str(tmp_path / "b")).exit_code == 0
    with target.app_context():
        staff = db.session.scalars(select(StaffUser).where(StaffUser.username.like("pair%"))).all()
        assert len(staff) >= 5
        assert [s.username for s in staff if s.roles != {Role.INSPECTOR}] == []
