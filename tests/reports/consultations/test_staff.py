"""Staff run consultations: department scope, the place in the city, photos made public on
publishing, results and their exports, the QR plates (decoded as a phone would), the result note
and its notices to participants, and the citizen's personal data (export, erase)."""

from __future__ import annotations

import csv
import io
import shutil
import subprocess

import pytest
from openpyxl import load_workbook
from PIL import Image
from sqlalchemy import select

from app.auth.models import Role
from app.extensions import db
from app.media import privacy as media_privacy
from app.privacy import personal_data_steps
from reports.consultations import notices, seed
from reports.models import OutboxMessage, OutboxStatus
from tests.conftest import error_of
from tests.reports.conftest import INSIDE_EAST, OUTSIDE
from tests.reports.consultations.conftest import STAFF_API, make_project
from tests.shops.test_qr import decode, rasterise_svg


def answer(client, park, headers, kind="needs", answers=None):
    answers = answers or {"q1": [0, 2], "q2": 1}
    resp = client.put(park.phase(kind) + "/response", json={"answers": answers}, headers=headers)
    assert resp.status_code == 200, resp.get_json()


def test_staff_act_for_their_own_district_only(client, city, park, auth_header, make_staff):
    west, east = auth_header(city.west_handler), auth_header(city.east_handler)
    assert client.get(f"{STAFF_API}/projects/{park.id}", headers=west).status_code == 200
    resp = client.get(f"{STAFF_API}/projects/{park.id}", headers=east)
    assert resp.status_code == 403 and error_of(resp)["code"] == "out_of_scope"
    for path in ("results", "export", "plate"):
        assert client.get(f"{STAFF_API}/projects/{park.id}/{path}", headers=east).status_code == 403
    assert client.post(f"{STAFF_API}/projects/{park.id}/close", headers=east).status_code == 403
    assert client.get(f"{STAFF_API}/projects", headers=east).get_json()["items"] == []
    assert [
        p["id"] for p in client.get(f"{STAFF_API}/projects", headers=west).get_json()["items"]
    ] == [park.id]
    # East cannot make a project of the west's bureau, nor see the west's comments.
    body = {
        "name": "越权项目",
        "kind": "other",
        "description": "x",
        "lat": INSIDE_EAST[0],
        "lng": INSIDE_EAST[1],
        "department_id": city.west.id,
    }
    assert client.post(f"{STAFF_API}/projects", json=body, headers=east).status_code == 403
    assert client.get(f"/console/consultations/{park.id}", headers=east).status_code == 404
    inspector = auth_header(make_staff("inspector2", roles=(Role.INSPECTOR,)))
    assert client.get(f"{STAFF_API}/projects", headers=inspector).status_code == 403


def test_a_project_lies_in_the_city_and_may_be_an_area(client, city, auth_header):
    staff = auth_header(city.dispatcher)
    body = {
        "name": "城外项目",
        "kind": "other",
        "description": "x",
        "lat": OUTSIDE[0],
        "lng": OUTSIDE[1],
        "department_id": city.west.id,
    }
    resp = client.post(f"{STAFF_API}/projects", json=body, headers=staff)
    assert resp.status_code == 422 and list(error_of(resp)["fields"]) == ["lat"]
    lat, lng = 41.80, 123.35
    ring = [[lng, lat], [lng + 0.002, lat], [lng + 0.002, lat + 0.002], [lng, lat + 0.002]]
    body = {
        "name": "背街小巷整治",
        "kind": "back_alley",
        "description": "x",
        "area": {"type": "Polygon", "coordinates": [ring]},
        "department_id": city.west.id,
    }
    resp = client.post(f"{STAFF_API}/projects", json=body, headers=staff)
    assert resp.status_code == 201, resp.get_json()
    made = resp.get_json()
    assert lat < made["lat"] < lat + 0.002 and lng < made["lng"] < lng + 0.002  # inside it
    assert made["district_code"] == "T-W" and made["status_label"] == "草稿"


def test_photos_become_public_copies_when_published(
    client, city, auth_header, photo, make_citizen, monkeypatch
):
    published = []
    monkeypatch.setattr(media_privacy, "publish", lambda m: published.append(m.public_id))
    monkeypatch.setattr(media_privacy, "public_url", lambda m: f"/public/{m.public_id}.jpg")
    staff = auth_header(city.dispatcher)
    mine = photo(city.dispatcher)
    theirs = photo(make_citizen())  # a citizen's upload is no project photo
    park = make_project(client, staff, city.west.id, publish=False, photos=[mine])
    bad = client.patch(
        f"{STAFF_API}/projects/{park.id}", json={"photos": [mine, theirs]}, headers=staff
    )
    assert bad.status_code == 422 and list(error_of(bad)["fields"]) == ["photos"]
    assert published == []
    client.post(f"{STAFF_API}/projects/{park.id}/publish", headers=staff)
    assert published == [mine]
    public = client.get(f"/api/v1/consultations/projects/{park.code}").get_json()
    assert public["photos"] == [{"url": f"/public/{mine}.jpg"}]
    assert f"/public/{mine}.jpg" in client.get(f"/h5/consultations/{park.code}").get_data(True)


def test_results_and_exports(client, city, park, make_citizen, auth_header):
    staff = auth_header(city.dispatcher)
    a = make_citizen("o-a")
    a.nickname, a.phone = "李四", "13800001111"
    answer(client, park, auth_header(a), answers={"q1": [0, 2], "q2": 1, "q3": "=HYPERLINK(1)"})
    answer(client, park, auth_header(make_citizen("o-b")), answers={"q1": [2], "q2": 1})
    answer(client, park, auth_header(make_citizen("o-c")), "proposals", {"q1": 1})
    client.post(
        park.phase("proposals") + "/comments", json={"body": "加路灯"}, headers=auth_header(a)
    )

    needs = client.get(f"{STAFF_API}/projects/{park.id}/results", headers=staff).get_json()
    needs = needs["phases"][0]
    assert needs["responses"] == 2
    q1 = needs["questions"][0]
    assert [(o["label"], o["count"], o["share"]) for o in q1["options"]] == [
        ("座椅", 1, 0.5),
        ("健身器材", 0, 0.0),
        ("照明", 2, 1.0),
    ]
    assert needs["questions"][2]["latest"] == ["=HYPERLINK(1)"]

    resp = client.get(
        f"{STAFF_API}/projects/{park.id}/export?format=csv&part=summary", headers=staff
    )
    assert resp.status_code == 200 and resp.mimetype == "text/csv"
    rows = list(csv.reader(io.StringIO(resp.get_data(as_text=True).lstrip("\ufeff"))))
    assert rows[0] == ["阶段", "题号", "题目", "题型", "选项/星级", "人数", "占比(%)"]
    assert ["问需", "1", "您最希望增加哪些设施？", "多选", "照明", "2", "100.0"] in rows
    assert ["问计", "1", "您支持哪个方案？", "单选", "方案二", "1", "100.0"] in rows
    resp = client.get(
        f"{STAFF_API}/projects/{park.id}/export?format=csv&part=responses", headers=staff
    )
    text = resp.get_data(as_text=True)
    assert "座椅、照明" in text and "'=HYPERLINK(1)" in text  # a formula is neutralised

    resp = client.get(f"{STAFF_API}/projects/{park.id}/export?format=xlsx", headers=staff)
    book = load_workbook(io.BytesIO(resp.data))
    assert book.sheetnames == ["汇总", "答卷-问需", "答卷-问计", "答卷-问效", "留言与建议"]
    sheet = book["答卷-问需"]
    assert [c.value for c in sheet[1]][3:] == [
        "1. 您最希望增加哪些设施？",
        "2. 您多久来一次？",
        "3. 其他建议",
    ]
    assert [c.value for c in sheet[2]][3:] == ["座椅、照明", "每周", "'=HYPERLINK(1)"]
    assert [c.value for c in book["留言与建议"][2]][:4] == ["问计", "留言", "加路灯", "待审核"]
    everything = " ".join(str(c.value) for s in book for row in s.iter_rows() for c in row)
    assert "李四" not in everything and "13800001111" not in everything


def test_plates_decode_to_the_page_they_open(app, client, city, park, auth_header):
    staff = auth_header(city.dispatcher)
    url = f"{STAFF_API}/projects/{park.id}/plate"
    page = f"{app.config['PUBLIC_BASE_URL']}/h5/consultations/{park.code}"
    png = client.get(url, headers=staff)
    assert png.mimetype == "image/png" and decode(Image.open(io.BytesIO(png.data))) == [page]
    svg = client.get(url + "?format=svg&phase=proposals", headers=staff)
    assert decode(rasterise_svg(svg.get_data(as_text=True))) == [page + "/proposals"]
    assert client.get(url + "?phase=nope", headers=staff).status_code == 422
    assert page.endswith(park.code)
    # The opened page is the project's public page.
    assert client.get(page.removeprefix(app.config["PUBLIC_BASE_URL"])).status_code == 200


@pytest.mark.skipif(
    not shutil.which("pdftoppm") or not shutil.which("pdftotext"),
    reason="poppler-utils (pdftoppm, pdftotext) not installed",
)
def test_the_pdf_plate_prints_name_phase_and_a_readable_code(
    app, client, city, park, auth_header, tmp_path
):
    resp = client.get(
        f"{STAFF_API}/projects/{park.id}/plate?format=pdf&phase=needs",
        headers=auth_header(city.dispatcher),
    )
    assert resp.mimetype == "application/pdf"
    (tmp_path / "plate.pdf").write_bytes(resp.data)
    subprocess.run(
        [
            "pdftoppm",
            "-r",
            "100",
            "-png",
            "-singlefile",
            tmp_path / "plate.pdf",
            tmp_path / "plate",
        ],
        check=True,
    )
    found = decode(Image.open(tmp_path / "plate.png"))
    assert found == [f"{app.config['PUBLIC_BASE_URL']}/h5/consultations/{park.code}/needs"]
    text = subprocess.run(
        ["pdftotext", tmp_path / "plate.pdf", "-"], capture_output=True, text=True, check=True
    ).stdout
    for words in ("测试口袋公园改造", "问需于民", "微信扫一扫", "测试一区城管局", park.code):
        assert words in text, (words, text)


def test_the_result_note_notifies_each_participant_once(
    client, city, park, make_citizen, auth_header
):
    a, b = make_citizen("o-a"), make_citizen("o-b")
    answer(client, park, auth_header(a))
    answer(client, park, auth_header(a), "proposals", {"q1": 0})
    client.post(park.phase("proposals") + "/comments", json={"body": "好"}, headers=auth_header(b))
    staff = auth_header(city.dispatcher)
    url = f"{STAFF_API}/projects/{park.id}/result"
    first = client.post(url, json={"text": "采用方案一，明年5月完工。"}, headers=staff)
    assert first.status_code == 200 and first.get_json()["notified"] is True
    again = client.post(url, json={"text": "采用方案一，明年6月完工。"}, headers=staff)
    assert again.get_json()["notified"] is False
    public = client.get(f"/api/v1/consultations/projects/{park.code}").get_json()
    assert public["result_note"] == "采用方案一，明年6月完工。"

    fan_out = db.session.scalars(
        select(OutboxMessage).where(OutboxMessage.kind == notices.RESULT_KIND)
    ).all()
    assert len(fan_out) == 1
    assert notices.result_round(batch=1) == 1  # one participant a round here
    assert notices.result_round(batch=1) == 1
    assert notices.result_round(batch=1) == 0
    assert fan_out[0].status == OutboxStatus.SENT
    sent = db.session.scalars(
        select(OutboxMessage)
        .where(OutboxMessage.kind == "wechat_notice")
        .order_by(OutboxMessage.id)
    ).all()
    assert sorted(m.payload["user_id"] for m in sent) == sorted([a.id, b.id])
    assert {(m.payload["state"], m.payload["path"]) for m in sent} == {
        ("结果公示", f"/h5/consultations/{park.code}")
    }


def test_personal_data_export_and_erase(client, city, park, make_citizen, make_staff, auth_header):
    citizen = make_citizen()
    citizen.nickname = "王五"
    answer(client, park, auth_header(citizen), answers={"q1": [1], "q2": 2})
    said = client.post(
        park.phase("proposals") + "/comments",
        json={"body": "多放长椅"},
        headers=auth_header(citizen),
    ).get_json()
    reviewer = auth_header(make_staff("reviewer1", roles=(Role.REVIEWER,)))
    client.post(
        f"{STAFF_API}/comments/{said['id']}/moderation",
        json={"decision": "approve"},
        headers=reviewer,
    )
    step = next(s for s in personal_data_steps() if s.name == "consultations")

    exported = step.export(citizen)
    assert exported["answers"][0]["answers"] == [
        {"question": "您最希望增加哪些设施？", "answer": "健身器材"},
        {"question": "您多久来一次？", "answer": "很少"},
    ]
    assert [(c["text"], c["status"]) for c in exported["comments"]] == [("多放长椅", "已公开")]

    assert step.erase(citizen) == 2
    db.session.expire_all()
    assert step.export(citizen) == {"answers": [], "comments": []}
    shown = client.get(park.phase("proposals") + "/comments").get_json()["items"]
    assert [(c["author"], c["body"]) for c in shown] == [("匿名市民", "多放长椅")]
    results = client.get(
        f"{STAFF_API}/projects/{park.id}/results", headers=auth_header(city.dispatcher)
    ).get_json()
    assert results["phases"][0]["responses"] == 0


def test_the_demo_seed_makes_a_pocket_park_once(client, make_department):
    make_department("SY")
    seed.seed_demo()
    seed.seed_demo()  # again: nothing more
    items = client.get("/api/v1/consultations/projects").get_json()["items"]
    assert sorted(p["kind_label"] for p in items) == ["口袋公园", "背街小巷"]
    park = next(p for p in items if p["kind"] == "pocket_park")
    assert [(p["short"], p["state_label"]) for p in park["phases"]] == [
        ("问需", "已结束"),
        ("问计", "进行中"),
        ("问效", "未开始"),
    ]
    assert park["participants"] == 18 and park["cover"]
    shown = client.get(f"/api/v1/consultations/projects/{park['code']}/phases/proposals/comments")
    assert [c["author"] for c in shown.get_json()["items"]] == ["演**"]
