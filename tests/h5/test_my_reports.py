"""/h5/reports and /h5/reports/<number>: only the citizen's own reports, the public timeline,
before and after photos, and the rating form only once a report is closed and unrated."""

from __future__ import annotations

import re

from app.extensions import db
from reports import transitions
from tests.h5.test_home import BROWSER, csrf_token


def page_of(client, path: str) -> tuple[int, str]:
    resp = client.get(path, headers=BROWSER)
    return resp.status_code, resp.get_data(as_text=True)


def test_my_reports_lists_mine_and_never_anyone_elses(client, citizen, make_citizen, sign_in,
                                                      make_report):  # fmt: skip
    mine = make_report(citizen)
    other = make_report(make_citizen("o-h5-other"), description="别人家楼下的路灯不亮了，晚上很黑")
    sign_in(citizen)
    status, page = page_of(client, "/h5/reports")
    assert status == 200 and "我的上报" in page and "共 1 条" in page
    assert mine.number in page and "雨水井盖严重破损" in page and "已派遣" in page
    assert f'href="/h5/reports/{mine.number}"' in page and "井盖" in page
    assert other.number not in page and "路灯不亮" not in page
    assert 'hidden id="load-more-area"' in page and "没有更多了" in page
    assert '<div class="weui-loadmore weui-loadmore_line" id="list-end">' in page
    assert 'id="tab-mine" class="weui-tabbar__item weui-bar__item_on"' in page


def test_the_first_page_holds_ten_and_offers_more(client, citizen, sign_in, make_report):
    numbers = [make_report(citizen, description=f"第{i}处井盖破损，车辆经过很危险").number
               for i in range(12)]  # fmt: skip
    sign_in(citizen)
    _, page = page_of(client, "/h5/reports")
    shown = re.findall(r'href="/h5/reports/([0-9-]+)"', page)
    assert shown == numbers[::-1][:10]  # newest first
    assert "共 12 条" in page and "加载更多" in page
    assert '<div class="weui-btn-area" id="load-more-area">' in page
    assert 'data-api="/api/v1/reports"' in page and 'id="report-item-template"' in page
    more = client.get("/api/v1/reports?page=2&per_page=10").get_json()
    assert [i["number"] for i in more["items"]] == numbers[1::-1]


def test_no_reports_yet(client, citizen, sign_in):
    sign_in(citizen)
    _, page = page_of(client, "/h5/reports")
    assert "您还没有上报过问题" in page and 'href="/h5/report"' in page and "共 0 条" in page


def test_someone_elses_report_is_not_found(client, citizen, make_citizen, sign_in, make_report):
    other = make_report(make_citizen("o-h5-other"), description="别人家楼下的路灯不亮了，晚上很黑")
    sign_in(citizen)
    status, page = page_of(client, f"/h5/reports/{other.number}")
    assert status == 404 and "未找到该问题" in page
    assert "路灯不亮" not in page and other.number not in page
    status, page = page_of(client, "/h5/reports/20990101-999999")
    assert status == 404 and "未找到该问题" in page


def test_an_open_report_shows_state_timeline_and_before_photos_without_rating(
    client, citizen, sign_in, make_report
):
    report = make_report(citizen, address="小北一路与北一中路交叉口")
    sign_in(citizen)
    status, page = page_of(client, f"/h5/reports/{report.number}")
    assert status == 200 and report.number in page
    for text in (
        "已派遣",
        "测试一区城管局",
        "雨水井盖",
        "小北一路与北一中路交叉口",
        "办理进度",
        f"问题已提交（编号{report.number}），等待受理",
        "已派遣至测试一区城管局处置",
    ):
        assert text in page, text
    assert re.search(r'id="detail-map"[^>]*data-lat="41\.8', page)
    before = page[page.index('id="before-photos"') : page.index('id="after-photos"')]
    assert before.count("<img") == 1 and 'data-stage="report"' in before
    assert "处置完成后，处置人员拍摄的照片将在这里展示" in page
    assert 'id="rating-form"' not in page and "我的评价" not in page


def test_a_closed_report_shows_after_photos_and_takes_one_rating(
    client, city, citizen, sign_in, make_report, close_report
):
    report = close_report(make_report(citizen))
    sign_in(citizen)
    _, page = page_of(client, f"/h5/reports/{report.number}")
    assert "已结案" in page and "结案时间" in page
    after = page[page.index('id="after-photos"') : page.index("办理进度")]
    assert after.count("<img") == 1 and 'data-stage="after"' in after
    timeline = page[page.index('id="timeline"') :]
    states = re.findall(r'data-state="([a-z_]+)"', timeline)
    assert states == ["closed", "handled", "in_progress", "dispatched", "registered", "reported"]
    assert 'data-stage="after"' in timeline  # the handler's step carries its photos
    for secret in ("west_handler", "inspector", "现场核查合格", "已更换新井盖"):
        assert secret not in page, secret  # staff names and internal notes stay inside
    assert 'id="rating-form"' in page
    assert f'data-api="/api/v1/reports/{report.number}/rating"' in page
    assert len(re.findall(r'<input type="radio" name="rating"', page)) == 5

    token = csrf_token(page)
    rated = client.post(f"/api/v1/reports/{report.number}/rating",
                        json={"rating": 4, "comment": "处理得很及时"},
                        headers={"X-CSRFToken": token})  # fmt: skip
    assert rated.status_code == 200
    _, page = page_of(client, f"/h5/reports/{report.number}")
    assert 'id="rating-form"' not in page and "我的评价" in page
    assert "★★★★" in page and "满意" in page and "处理得很及时" in page


def test_a_report_merged_into_another_case_follows_it_without_the_other_reporters_words(
    client, city, citizen, make_citizen, sign_in, make_report
):
    first = make_report(make_citizen("o-h5-first"), description="井盖破损很危险，第一位市民的原话")
    mine = make_report(citizen)  # the same point: flagged as a possible duplicate
    merge = transitions.Params(note="同一井盖", target_number=first.number)
    transitions.transition(mine, "merge", city.dispatcher, merge)
    db.session.flush()
    sign_in(citizen)
    _, page = page_of(client, f"/h5/reports/{mine.number}")
    assert "已合并" in page and f'href="/h5/reports/{first.number}"' in page
    status, page = page_of(client, f"/h5/reports/{first.number}")
    assert status == 200 and "合并办理" in page
    assert "第一位市民的原话" not in page and 'id="before-photos"' not in page
    assert 'id="rating-form"' not in page
