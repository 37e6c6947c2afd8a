"""Video evidence, OCR suggestions stored for the reviewer, the real-name rule, leads with their
export, the monthly report, and the demo city's littering data."""

from __future__ import annotations

import csv
import io

from openpyxl import load_workbook
from sqlalchemy import func, select

from app.extensions import db
from app.media import service as media_service
from reports.littering import ledger
from reports.littering.models import EntryState, LitteringReport, LitteringState, RewardEntry
from tests.app.test_video import make_video
from tests.reports.littering.test_ocr import dataset  # noqa: F401, F811 - renderer fixture
from tests.reports.littering.test_payouts import prepare, release

PLATE_PHOTO_TEXT = "湘C3K88Z"


def test_one_video_is_evidence_but_not_with_photos(
    make_citizen, people, rule, submit, upload, client, auth_header
):
    citizen = make_citizen("o-ev-1")
    video = media_service.store_any_upload(make_video(3), citizen).public_id
    resp = submit(citizen, photos=[video])
    assert resp.status_code == 201, resp.json
    [evidence] = resp.json["evidence"]
    assert evidence["kind"] == "video" and evidence["poster_url"]
    mixed = submit(citizen, photos=[video, *upload(citizen, 1)])
    assert (
        mixed.status_code == 422
        and "视频证据只能上传1段" in mixed.json["error"]["fields"]["media"][0]
    )
    detail = client.get(
        f"/api/v1/staff/littering/reports/{resp.json['number']}",
        headers=auth_header(people.reviewer),
    ).json
    assert detail["evidence"][0]["duration_ms"] >= 2900


def test_ocr_suggestion_is_stored_for_the_reviewer(
    make_citizen,
    people,
    rule,
    submit,
    app,
    monkeypatch,
    client,
    auth_header,
    dataset,  # noqa: F811
):
    monkeypatch.setitem(app.config, "LITTERING_OCR_ENABLED", True)
    citizen = make_citizen("o-ev-2")
    photos = [
        media_service.store_upload(
            dataset.render_example(PLATE_PHOTO_TEXT, "blue", seed=s), citizen
        ).public_id
        for s in (1, 2)
    ]
    suggested = client.post(
        "/api/v1/littering/plate-suggestions", json={"media": photos}, headers=auth_header(citizen)
    ).json["suggestions"]
    assert suggested[0]["plate"] == PLATE_PHOTO_TEXT
    number = submit(citizen, photos=photos, plate="湘C3K88Y").json["number"]
    detail = client.get(
        f"/api/v1/staff/littering/reports/{number}", headers=auth_header(people.reviewer)
    ).json
    assert detail["plate_suggestions"][0]["plate"] == PLATE_PHOTO_TEXT
    assert any(s["code"] == "ocr_mismatch" for s in detail["signals"])


def test_two_thousand_yuan_needs_the_payees_name(
    make_citizen, people, rule, submit, review, client, auth_header, pay_config
):
    rule.reward_fen = 200_000
    named, anonymous = make_citizen("o-ev-3"), make_citizen("o-ev-4")
    review(people.reviewer, submit(named, plate="辽L00001", payee_name="张三").json["number"])
    review(people.reviewer, submit(anonymous, plate="辽L00002").json["number"])
    batch = prepare(client, auth_header, people.finance).json
    done = release(client, auth_header, people.finance2, batch["number"]).json
    by_state = {e["state"]: e for e in done["entries"]}
    assert by_state["in_payout"]["payout"]["amount_fen"] == 200_000
    assert by_state["approved"]["note"] == "金额达2000元，需收款人实名"
    assert ledger.check().ok


def test_leads_move_forward_and_export(
    make_citizen, people, rule, submit, review, client, auth_header
):
    number = submit(make_citizen("o-ev-5"), plate="辽M12345").json["number"]
    lead = review(people.reviewer, number).json["lead"]
    url = f"/api/v1/staff/littering/leads/{lead['id']}"
    headers = auth_header(people.handler)
    no_case = client.post(url, json={"state": "filed"}, headers=headers)
    assert (
        no_case.status_code == 422
        and "立案编号" in no_case.json["error"]["fields"]["case_number"][0]
    )
    filed = client.post(
        url,
        json={"state": "filed", "case_number": "沈城执罚〔2026〕88号", "version": lead["version"]},
        headers=headers,
    )
    assert filed.status_code == 200 and filed.json["state_label"] == "已立案"
    back = client.post(url, json={"state": "open"}, headers=headers)
    assert back.status_code == 409
    client.post(url, json={"state": "penalized", "penalty_fen": 5000}, headers=headers)
    csv_resp = client.get("/api/v1/staff/littering/leads/export?format=csv", headers=headers)
    rows = list(csv.reader(io.StringIO(csv_resp.data.decode("utf-8-sig"))))
    assert rows[0][:3] == ["线索编号", "举报编号", "车牌号"]
    assert rows[1][1:3] == [number, "辽M12345"] and rows[1][9] == "已处罚" and rows[1][11] == "50"
    xlsx = client.get("/api/v1/staff/littering/leads/export?format=xlsx", headers=headers)
    sheet = load_workbook(io.BytesIO(xlsx.data)).active
    assert sheet["C2"].value == "辽M12345"
    east = client.get("/api/v1/staff/littering/leads", headers=auth_header(people.reviewer))
    assert east.json["total"] == 1
    citizen_tries = client.get(
        "/api/v1/staff/littering/leads", headers=auth_header(make_citizen("o-ev-6"))
    )
    assert citizen_tries.status_code == 403


def test_monthly_report_counts_and_exports(
    make_citizen, people, rule, submit, review, client, auth_header, pay_config
):
    for i in range(3):
        number = submit(make_citizen(f"o-ev-m{i}"), plate=f"辽N1234{i}").json["number"]
        if i < 2:
            review(people.reviewer, number)
    batch = prepare(client, auth_header, people.finance, channel="offline").json
    released = release(client, auth_header, people.finance2, batch["number"]).json
    number = released["entries"][0]["payout"]["out_bill_no"]
    client.post(
        f"/api/v1/staff/rewards/payouts/{number}/offline",
        json={"reference": "R-1"},
        headers=auth_header(people.finance),
    )
    [month] = client.get("/api/v1/staff/rewards/monthly", headers=auth_header(people.finance)).json[
        "items"
    ]
    assert (month["received"], month["valid"], month["rewarded"]) == (3, 2, 2)
    assert (month["paid_count"], month["paid_fen"]) == (1, 5000)
    exported = client.get(
        "/api/v1/staff/rewards/monthly?format=csv", headers=auth_header(people.finance)
    )
    rows = list(csv.reader(io.StringIO(exported.data.decode("utf-8-sig"))))
    assert rows[0][0] == "月份" and rows[1][1:4] == ["3", "2", "0"] and rows[1][6] == "50"


def test_demo_city_has_littering_in_every_state(demo_city):
    states = dict(
        db.session.execute(
            select(LitteringReport.state, func.count()).group_by(LitteringReport.state)
        ).all()
    )
    assert sum(states.values()) >= 250
    assert set(states) == set(LitteringState)
    entries = dict(
        db.session.execute(
            select(RewardEntry.state, func.count()).group_by(RewardEntry.state)
        ).all()
    )
    assert entries[EntryState.PAID] > 0 and entries[EntryState.ACCRUED] > 0
    assert ledger.check().ok
