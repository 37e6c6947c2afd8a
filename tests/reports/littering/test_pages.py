"""The 车窗抛物 pages as citizens and staff see them: the H5 form, list and detail (确认收款 only
while a transfer waits for the citizen), and the console's review, leads, rewards and rules pages
for exactly the roles that may use them."""

from __future__ import annotations

import re
from urllib.parse import parse_qs, urlsplit

import pytest
from sqlalchemy import select

from app.extensions import db
from reports.littering import worker
from reports.littering.models import Payout, PayoutState
from reports.littering.plates import mask_plate
from tests.console.conftest import login_as
from tests.reports.littering.test_payouts import deliver, prepare, release

BROWSER = {"Accept": "text/html"}


def html(client, url: str, status: int = 200) -> str:
    resp = client.get(url, headers=BROWSER)
    assert resp.status_code == status, (url, resp.status_code, resp.get_data(as_text=True)[:500])
    return resp.get_data(as_text=True)


def menu(page: str) -> list[str]:
    nav = re.search(r'<nav class="side".*?</nav>', page, re.S).group(0)
    return re.findall(r">([^<>]+)</a>", nav)


@pytest.fixture
def sign_in(client):
    """Sign a citizen into the test client's H5 session, as the OAuth callback does."""

    def do(user) -> None:
        with client.session_transaction() as sess:
            sess["citizen_id"] = user.id

    return do


@pytest.fixture
def staff_client(app, people):
    """Factory: a fresh browser signed into the console as ``username``; (client, csrf)."""

    def make(username: str):
        browser = app.test_client()
        return browser, login_as(browser, username)

    return make


@pytest.fixture
def citizen(make_citizen):
    return make_citizen("o-lt-pages")


# ---------------------------------------------------------------- sign-in and roles


@pytest.mark.parametrize("path", ["/h5/littering/new", "/h5/littering",
                                  "/h5/littering/CC20261201-000001"])  # fmt: skip
def test_signed_out_citizens_go_through_the_public_account_sign_in(client, path):
    resp = client.get(path, headers=BROWSER)
    assert resp.status_code == 302
    location = urlsplit(resp.headers["Location"])
    assert location.path == "/auth/wechat" and parse_qs(location.query)["next"] == [path]


@pytest.mark.parametrize("path", ["/console/littering/reports", "/console/littering/leads",
                                  "/console/littering/rewards", "/console/littering/rules",
                                  "/console/littering/batches/PB20261201-000001"])  # fmt: skip
def test_signed_out_staff_go_to_the_login_form(client, path):
    resp = client.get(path, headers=BROWSER)
    assert resp.status_code == 302 and "/console/login?next=" in resp.headers["Location"]


def test_each_role_sees_its_menus_and_no_other_pages(staff_client):
    expected = {
        "reviewer": ({"车窗抛物审核", "违法线索", "奖励规则"}, {"奖励发放"}),
        "finance": ({"奖励发放", "奖励规则"}, {"车窗抛物审核", "违法线索"}),
        "handler_w": ({"违法线索"}, {"车窗抛物审核", "奖励发放", "奖励规则"}),
        "admin": ({"车窗抛物审核", "违法线索", "奖励发放", "奖励规则"}, set()),
    }
    for username, (shown, hidden) in expected.items():
        browser, _ = staff_client(username)
        entries = set(menu(html(browser, "/console/")))
        assert shown <= entries and not hidden & entries, (username, entries)
    reviewer, _ = staff_client("reviewer")
    for url in ("/console/littering/rewards", "/console/littering/batches",
                "/console/littering/payouts/failed", "/console/littering/checks"):  # fmt: skip
        html(reviewer, url, 403)
    finance, _ = staff_client("finance")
    html(finance, "/console/littering/reports", 403)
    html(finance, "/console/littering/leads", 403)
    handler, _ = staff_client("handler_w")
    html(handler, "/console/littering/rules", 403)
    html(handler, "/console/littering/monthly", 403)


# ---------------------------------------------------------------- citizen H5


def test_the_report_form(client, citizen, sign_in, rule):
    sign_in(citizen)
    page = html(client, "/h5/littering/new")
    assert "<title>车窗抛物举报 - 智慧城管</title>" in page
    assert "省份简称+字母+5位，新能源6位" in page and "识别结果仅供参考，请核对" in page
    for label in ("蓝牌", "绿牌（新能源）", "黄牌"):
        assert label in page
    assert 'type="datetime-local"' in page and re.search(r'id="occurred-at"[^>]*value="20', page)
    assert 'accept="image/*,video/mp4,video/quicktime"' in page
    assert 'data-reports-url="/api/v1/littering/reports"' in page
    assert 'data-suggest-url="/api/v1/littering/plate-suggestions"' in page
    assert 'data-media-url="/api/v1/media"' in page
    assert "/static/littering/h5_new.js" in page
    assert client.get("/static/littering/h5_new.js").status_code == 200


def test_my_reports_list_labels_and_totals(client, citizen, make_citizen, sign_in, people, rule,
                                           submit, review):  # fmt: skip
    first = submit(citizen, plate="辽A11111").json["number"]
    second = submit(citizen, plate="辽A22222").json["number"]
    review(people.reviewer, second, "invalid", reason="plate_unreadable")
    theirs = submit(make_citizen("o-lt-other"), plate="辽A33333").json["number"]
    sign_in(citizen)
    page = html(client, "/h5/littering")
    assert "我的车窗抛物举报" in page and "共 2 条" in page
    assert first in page and second in page and theirs not in page
    assert "待审核" in page and "无效" in page
    assert "已到账 <strong" in page and re.search(r'id="paid-yuan">0<', page)
    detail = html(client, f"/h5/littering/{second}")
    assert "无效原因：车牌无法辨认" in detail and "辽A22222" in detail
    assert "确认收款" not in detail
    assert re.search(r'<img src="[^"]+" alt="证据照片1"', detail)
    missing = html(client, f"/h5/littering/{theirs}", 404)
    assert "未找到该举报" in missing and "辽A33333" not in missing


def test_confirm_receipt_only_while_a_transfer_waits(
    client,
    citizen,
    sign_in,
    people,
    rule,
    submit,
    review,
    auth_header,
    pay_config,
    pay_client,
    pay_emulator,
    receiver,
):
    number = submit(citizen, plate="辽B12345").json["number"]
    sign_in(citizen)
    assert "确认收款" not in html(client, f"/h5/littering/{number}")
    assert review(people.reviewer, number).json["state"] == "valid"
    page = html(client, f"/h5/littering/{number}")
    assert "有效" in page and "50</span> 元" in page and "确认收款" not in page
    assert re.search(r'id="pending-yuan">50<', html(client, "/h5/littering"))

    batch = prepare(client, auth_header, people.finance).json["number"]
    release(client, auth_header, people.finance2, batch)
    worker.run_once(pay=pay_client)
    payout = db.session.scalar(select(Payout))
    assert payout.state == PayoutState.WAIT_CONFIRM
    page = html(client, f"/h5/littering/{number}")
    assert "奖励待领取" in page and 'id="confirm-receipt"' in page and "确认收款" in page
    assert f'data-package="{payout.package_info}"' in page
    assert f'data-mch-id="{pay_config["WECHATPAY_MCHID"]}"' in page
    assert "/_wechatpay/confirm?package=" in page
    assert "奖励待领取" in html(client, "/h5/littering")

    pay_emulator.confirm(package=payout.package_info)
    assert deliver(client, pay_emulator, receiver) == [204]
    db.session.expire_all()
    page = html(client, f"/h5/littering/{number}")
    assert "已到账" in page and 'id="confirm-receipt"' not in page
    assert re.search(r'id="paid-yuan">50<', html(client, "/h5/littering"))


# ---------------------------------------------------------------- console


def test_review_queue_and_review_page(client, citizen, make_citizen, people, rule, submit,
                                      staff_client):  # fmt: skip
    first = submit(citizen, plate="辽C12345").json["number"]
    second = submit(make_citizen("o-lt-second"), plate="辽C12345").json["number"]
    other = submit(citizen, plate="辽C54321").json["number"]
    browser, csrf = staff_client("reviewer")
    queue = html(browser, "/console/littering/reports")
    assert "<title>车窗抛物审核 - 智慧城管</title>" in queue
    assert queue.index(first) < queue.index(second) < queue.index(other)  # oldest first
    by_plate = html(browser, "/console/littering/reports?plate=辽c54321")
    assert other in by_plate and first not in by_plate
    page = html(browser, f"/console/littering/reports/{second}")
    assert f"车窗抛物举报 {second}" in page and "待审核" in page
    assert len(re.findall(r'alt="证据照片\d"', page)) == 2
    same_car = page[page.index('id="same-car"') :]
    assert first in same_car and other not in same_car
    assert 'name="version" value="1"' in page and 'id="decision-valid"' in page
    assert "车牌无法辨认" in page and "更正车牌" in page
    html(browser, "/console/littering/reports/CC20990101-999999", 404)

    # the page's form posts what the API takes, with the session's CSRF token
    body = {"decision": "valid", "version": 1}
    headers = {"X-CSRFToken": csrf}
    url = f"/api/v1/staff/littering/reports/{second}/review"
    refused = browser.post(url, json=body, headers=headers)
    assert refused.status_code == 409 and refused.json["error"]["code"] == "earlier_report_pending"
    done = browser.post(f"/api/v1/staff/littering/reports/{first}/review", json=body,
                        headers=headers)  # fmt: skip
    assert done.status_code == 200, done.json
    page = html(browser, f"/console/littering/reports/{first}")
    assert 'id="review-form"' not in page and "该举报已审核：有效" in page
    assert "有效" in html(browser, "/console/littering/reports?state=valid")


def test_leads_page_with_moves_and_exports(citizen, people, rule, submit, review, staff_client):
    number = submit(citizen, plate="辽D12345").json["number"]
    review(people.reviewer, number)
    browser, _ = staff_client("handler_w")
    page = html(browser, "/console/littering/leads")
    assert "<title>违法线索 - 智慧城管</title>" in page and "辽D12345" in page and "待处理" in page
    assert 'href="/api/v1/staff/littering/leads/export?format=csv"' in page
    assert 'href="/api/v1/staff/littering/leads/export?format=xlsx"' in page
    assert ">立案</option>" in page and ">处罚</option>" in page and ">结案</option>" in page
    filtered = html(browser, "/console/littering/leads?state=closed")
    assert "辽D12345" not in filtered and "state=closed&amp;format=csv" in filtered
    assert browser.get("/api/v1/staff/littering/leads/export?format=csv").status_code == 200


def test_batch_page_four_eyes(citizen, people, rule, submit, review, client, auth_header,
                              staff_client):  # fmt: skip
    review(people.reviewer, submit(citizen, plate="辽E12345").json["number"])
    preparer, _ = staff_client("finance")
    rewards = html(preparer, "/console/littering/rewards")
    assert "<title>奖励发放 - 智慧城管</title>" in rewards and "生成发放批次" in rewards
    assert "待发放" in rewards and mask_plate("辽E12345") in rewards
    assert "data-idempotent" in rewards and "50 元" in rewards
    number = prepare(client, auth_header, people.finance).json["number"]
    own = html(preparer, f"/console/littering/batches/{number}")
    assert "需另一名财务人员放行" in own and re.search(r'id="release" disabled', own)
    assert "data-post" not in own.split('id="release"')[1].split(">")[0]
    assert "撤销" in own
    assert number in html(preparer, "/console/littering/batches")
    other, _ = staff_client("finance2")
    page = html(other, f"/console/littering/batches/{number}")
    assert "需另一名财务人员放行" not in page
    assert f'data-post="/api/v1/staff/rewards/batches/{number}/release"' in page
    for url, title in (("/console/littering/payouts/failed", "发放失败"),
                       ("/console/littering/payouts/offline", "线下发放"),
                       ("/console/littering/checks", "异常与对账"),
                       ("/console/littering/monthly", "奖励月报")):  # fmt: skip
        assert f"<title>{title} - 智慧城管</title>" in html(other, url)
    monthly = html(other, "/console/littering/monthly?year=2026")
    assert 'href="/api/v1/staff/rewards/monthly?year=2026&amp;format=xlsx"' in monthly


def test_offline_payouts_offer_the_record_form(citizen, people, rule, submit, review, client,
                                               auth_header, staff_client):  # fmt: skip
    review(people.reviewer, submit(citizen, plate="辽F12345").json["number"])
    number = prepare(client, auth_header, people.finance, channel="offline").json["number"]
    release(client, auth_header, people.finance2, number)
    payout = db.session.scalar(select(Payout))
    browser, _ = staff_client("finance")
    page = html(browser, "/console/littering/payouts/offline")
    assert payout.out_bill_no in page
    assert f'data-api="/api/v1/staff/rewards/payouts/{payout.out_bill_no}/offline"' in page
    assert 'name="reference"' in page and "data-upload" in page


def test_rules_page_for_admins_readers_and_bans(people, rule, staff_client):
    admin, _ = staff_client("admin")
    page = html(admin, "/console/littering/rules")
    assert "<title>奖励规则 - 智慧城管</title>" in page and 'id="rule-form"' in page
    assert 'id="rule-reward_fen" data-kind="yuan" min="0" step="0.01"\n  value="50.00"' in page
    assert "黑名单" in page and 'id="ban-form"' in page
    reviewer, _ = staff_client("reviewer")
    page = html(reviewer, "/console/littering/rules")
    assert "当前规则" in page and 'id="rule-form"' not in page and 'id="ban-form"' in page
    finance, _ = staff_client("finance")
    page = html(finance, "/console/littering/rules")
    assert "当前规则" in page and 'id="rule-form"' not in page and 'id="bans"' not in page
