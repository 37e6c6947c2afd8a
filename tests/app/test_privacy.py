"""Privacy (PIPL): public copies instead of originals, the citizen's data export and account
deletion, and the retention purge of finished cases."""

from __future__ import annotations

import io
from datetime import timedelta
from itertools import count
from urllib.parse import urlsplit

import pytest
from PIL import Image
from sqlalchemy import func, select

from app.audit import AuditLog
from app.auth import service as auth_service
from app.auth.models import User, WechatApp, WechatIdentity
from app.db import utcnow
from app.extensions import db
from app.media import privacy as media_privacy
from app.media import service as media_service
from app.media.models import Media
from app.privacy import AccountDeletion
from app.storage import get_storage
from reports.follows import ReportFollow
from reports.littering.models import (
    EntryState,
    Evidence,
    LitteringReport,
    LitteringState,
    RewardEntry,
)
from reports.models import Channel, PhotoStage, Report, ReportPhoto, ReportState
from tests.conftest import error_of
from wechat.models import SubscribeGrant

_serial = count(1)
LONG_AGO = timedelta(days=800)  # past RETENTION_DAYS (730)


def jpeg(colour=(40, 160, 60), size=(96, 64)) -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", size, colour).save(buf, "JPEG")
    return buf.getvalue()


def case(reporter, state=ReportState.IN_PROGRESS, *, photo=False, age=timedelta(hours=1)):
    """A case with the reporter's phone on it (and a photo), last touched ``age`` ago."""
    at = utcnow() - age
    report = Report(
        number=f"20261203-{next(_serial):06d}",
        channel=Channel.MINIPROGRAM,
        state=state,
        reporter=reporter,
        description="小北一路井盖破损，夜间危险",
        contact_phone="13800001111",
        lat=41.80,
        lng=123.40,
        created_at=at,
        updated_at=at,
        closed_at=at if state == ReportState.CLOSED else None,
    )
    db.session.add(report)
    db.session.flush()
    if photo:
        media = media_service.store_upload(jpeg(), reporter)
        db.session.add(ReportPhoto(report_id=report.id, media=media, stage=PhotoStage.REPORT))
        db.session.flush()
    return report


def fetch(client, url: str) -> bytes:
    resp = client.get(urlsplit(url).path)
    assert resp.status_code == 200
    return resp.data


# ---------------------------------------------------------------- public copies


def test_the_public_sees_a_copy_made_once_never_the_original(app, client, make_citizen):
    citizen = make_citizen("o-photo-owner")
    report = case(citizen, photo=True)
    media = report.photos[0].media
    db.session.refresh(media)
    assert media.public_state == "pending"  # attached to a case: queued for the worker
    assert media_privacy.public_url_if_ready(media) is None  # lists show nothing meanwhile
    assert media_privacy.publish_pending() == 1 and media_privacy.publish_pending() == 0
    db.session.refresh(media)
    made = media.redacted_at
    url = media_privacy.public_url(media)
    assert media.public_key == f"public/{media.public_id}.jpg"
    assert media.faces_found == 0 and media.plates_found == 0
    original = get_storage().get(media.storage_key)
    assert fetch(client, url) != original  # a re-encoded copy
    assert fetch(client, media_service.signed_url(media).url) == original  # staff: the original
    media_privacy.publish(media)
    assert media.redacted_at == made  # once


def test_an_unreadable_original_gets_a_placeholder_not_the_original(app, make_citizen):
    media = media_service.store_upload(jpeg(), make_citizen("o-broken"))
    get_storage().put(media.storage_key, b"not a picture any more", "image/jpeg")
    assert media_privacy.public_url(media).endswith(media_privacy.PLACEHOLDER)
    assert media.public_state == "failed"


def test_a_devices_evidence_is_not_queued(app):
    evidence = media_service.store_upload(jpeg(), None)
    report = case(None, ReportState.REGISTERED)
    db.session.add(ReportPhoto(report_id=report.id, media=evidence, stage=PhotoStage.REPORT))
    db.session.flush()
    db.session.refresh(evidence)
    assert evidence.public_state is None


def test_a_deleted_video_takes_its_poster_unless_still_used(app, make_citizen):
    owner = make_citizen("o-video")
    poster = media_service.store_upload(jpeg(), owner)
    video = Media(
        storage_key=f"media/test/{poster.public_id}.mp4",
        content_type="video/mp4",
        format="mp4",
        size=1,
        width=96,
        height=64,
        sha256="0" * 64,
        kind="video",
        poster_id=poster.id,
        user_id=owner.id,
    )
    kept = case(owner, photo=True).photos[0].media  # a report still shows this one
    db.session.add(video)
    db.session.flush()
    ids = (video.id, poster.id, kept.id)
    assert media_privacy.delete_unreferenced({ids[0], ids[2]}) == 2  # the video and its poster
    db.session.expire_all()
    assert [db.session.get(Media, i) is not None for i in ids] == [False, False, True]


# ---------------------------------------------------------------- 我的数据, 账号注销


def test_a_citizen_sees_their_data_and_deletes_the_account(app, client, make_citizen, auth_header):
    citizen = make_citizen("o-leaving")
    citizen.nickname, citizen.phone = "李四", "13900002222"
    mine = case(citizen, photo=True)
    other = case(make_citizen("o-staying"))
    db.session.add_all(
        [
            ReportFollow(report_id=other.id, user_id=citizen.id),
            SubscribeGrant(user_id=citizen.id, template_id="t", request_key="k1"),
        ]
    )
    db.session.flush()
    headers = auth_header(citizen)

    data = client.get("/api/v1/me/data", headers=headers).get_json()["sections"]
    assert data["account"]["nickname"] == "李四" and data["account"]["phone"] == "13900002222"
    assert data["account"]["wechat"][0]["openid"] == "o-leaving"
    assert data["reports"]["reports"][0]["contact_phone"] == "13800001111"
    assert data["reports"]["following"] == [
        {"number": other.number, "since": data["reports"]["following"][0]["since"]}
    ]
    assert len(data["reports"]["subscriptions"]) == 1

    key = {"Idempotency-Key": "delete-me-0001"}
    resp = client.delete("/api/v1/me", json={"confirm": "好的"}, headers=headers | key)
    assert resp.status_code == 422 and "confirm" in error_of(resp)["fields"]
    resp = client.delete("/api/v1/me", json={"confirm": "确认注销"}, headers=headers | key)
    assert resp.status_code == 200, resp.get_json()
    done = resp.get_json()
    assert done["steps"]["reports"] == 3  # the report anonymised, the follow and consent gone
    assert "匿名保留" in done["message"]

    assert client.get("/api/v1/me/data", headers=headers).status_code == 401  # signed out
    replay = client.delete("/api/v1/me", json={"confirm": "确认注销"}, headers=key)
    assert replay.status_code == 200 and replay.get_json() == done  # a retry: the same answer
    db.session.expire_all()
    user = db.session.get(User, citizen.id)
    assert (user.nickname, user.phone, user.unionid, user.is_active) == (None, None, None, False)
    assert user.deleted_at is not None
    assert (
        db.session.scalar(
            select(func.count())
            .select_from(WechatIdentity)
            .where(WechatIdentity.user_id == citizen.id)
        )
        == 0
    )
    kept = db.session.get(Report, mine.id)
    assert kept.contact_phone is None and kept.description  # the case stays, anonymised
    assert (
        db.session.scalar(
            select(func.count()).select_from(ReportFollow).where(ReportFollow.user_id == citizen.id)
        )
        == 0
    )
    again, created = auth_service.citizen_from_wechat(
        WechatApp.MINIPROGRAM, app.config["WECHAT_MINI_APP_ID"], "o-leaving"
    )
    assert created and again.id != citizen.id and again.nickname is None  # a new, empty account


def test_deletion_waits_for_an_unpaid_reward(app, client, make_citizen, auth_header):
    citizen = make_citizen("o-owed")
    report = LitteringReport(
        number="CC20261203-000001",
        reporter_id=citizen.id,
        plate="辽A12345",
        plate_colour="blue",
        occurred_at=utcnow(),
        state=LitteringState.VALID,
        reviewed_at=utcnow(),
    )
    db.session.add(report)
    db.session.flush()
    db.session.add(
        RewardEntry(
            report_id=report.id,
            user_id=citizen.id,
            amount_fen=500,
            rule_version=1,
            state=EntryState.ACCRUED,
        )
    )
    db.session.flush()
    resp = client.delete(
        "/api/v1/me",
        json={"confirm": "确认注销"},
        headers=auth_header(citizen) | {"Idempotency-Key": "owed-0000001"},
    )
    assert resp.status_code == 409 and error_of(resp)["code"] == "rewards_unsettled"
    db.session.expire_all()
    assert db.session.get(User, citizen.id).deleted_at is None


def test_the_page_is_reached_from_my_reports(client, make_citizen):
    citizen = make_citizen("o-page")
    with client.session_transaction() as sess:
        sess["citizen_id"] = citizen.id
    mine = client.get("/h5/reports").get_data(as_text=True)
    assert 'href="/h5/me/data"' in mine and "我的数据与账号注销" in mine
    page = client.get("/h5/me/data").get_data(as_text=True)
    assert "问题上报、关注与消息订阅" in page and "车窗抛物举报与奖励" in page
    assert "注销账号" in page and "确认注销" in page
    download = client.get("/h5/me/data.json")
    assert download.headers["Content-Disposition"].startswith("attachment")
    assert download.get_json()["sections"]["account"]["wechat"][0]["openid"] == "o-page"


# ---------------------------------------------------------------- retention purge


def test_the_purge_removes_only_old_finished_cases_once(app, make_citizen):
    citizen = make_citizen("o-old-cases")
    old = case(citizen, ReportState.CLOSED, photo=True, age=LONG_AGO)
    recent = case(citizen, ReportState.CLOSED, photo=True, age=timedelta(days=30))
    stale_open = case(citizen, ReportState.SUSPENDED, photo=True, age=LONG_AGO)
    media = old.photos[0].media
    media_privacy.publish(media)
    keys, media_id = [media.storage_key, media.public_key], media.id
    lit = LitteringReport(
        number="CC20241203-000001",
        reporter_id=citizen.id,
        plate="辽A54321",
        plate_colour="blue",
        occurred_at=utcnow() - LONG_AGO,
        state=LitteringState.INVALID,
        reviewed_at=utcnow() - LONG_AGO,
        device_id="device-1",
        client_ip="10.0.0.8",
    )
    lit.evidence.append(Evidence(media=media_service.store_upload(jpeg(), citizen)))
    db.session.add(lit)
    db.session.commit()
    runner = app.test_cli_runner()

    dry = runner.invoke(args=["privacy", "purge", "--dry-run"])
    assert dry.exit_code == 0 and "reports: would purge 1" in dry.output, dry.output
    assert "littering: would purge 1" in dry.output
    db.session.expire_all()
    assert db.session.get(Report, old.id).purged_at is None and all(map(get_storage().exists, keys))

    real = runner.invoke(args=["privacy", "purge"])
    assert real.exit_code == 0 and "reports: purged 1" in real.output, real.output
    db.session.expire_all()
    gone = db.session.get(Report, old.id)
    assert gone.purged_at and gone.contact_phone is None and gone.photos == []
    assert db.session.get(Media, media_id) is None and not any(map(get_storage().exists, keys))
    for kept in (recent, stale_open):
        row = db.session.get(Report, kept.id)
        assert row.purged_at is None and row.contact_phone and len(row.photos) == 1
    lit = db.session.get(LitteringReport, lit.id)
    assert lit.purged_at and lit.evidence == [] and lit.device_id is None and lit.plate
    audit = db.session.scalars(select(AuditLog).where(AuditLog.action == "privacy.purge")).all()
    assert [a.detail["counts"]["reports"] for a in audit] == [1]

    again = runner.invoke(args=["privacy", "purge"])
    assert "reports: purged 0" in again.output and "littering: purged 0" in again.output


@pytest.mark.parametrize("n", [6])
def test_parallel_deletions_are_one_deletion(live_db_url, tmp_path, n):
    from concurrent.futures import ThreadPoolExecutor

    from tests.conftest import committed_app

    live = committed_app(live_db_url, tmp_path)
    with live.app_context():
        user, _ = auth_service.citizen_from_wechat(
            WechatApp.MINIPROGRAM, live.config["WECHAT_MINI_APP_ID"], "o-double-tap"
        )
        raw, _ = auth_service.issue_token(user=user)
        user_id = user.id
        db.session.commit()
    headers = {"Authorization": f"Bearer {raw}", "Idempotency-Key": "double-tap-0001"}

    def delete(_):
        return live.test_client().delete(
            "/api/v1/me", json={"confirm": "确认注销"}, headers=headers
        )

    with ThreadPoolExecutor(n) as pool:
        answers = list(pool.map(delete, range(n)))
    assert [r.status_code for r in answers] == [200] * n, [r.get_json() for r in answers]
    assert len({r.get_json()["deleted_at"] for r in answers}) == 1
    with live.app_context():
        assert (
            db.session.scalar(
                select(func.count())
                .select_from(AccountDeletion)
                .where(AccountDeletion.user_id == user_id)
            )
            == 1
        )
        assert (
            db.session.scalar(
                select(func.count())
                .select_from(AuditLog)
                .where(AuditLog.action == "citizen.delete_account")
            )
            == 1
        )
        db.session.remove()
        db.engine.dispose()
