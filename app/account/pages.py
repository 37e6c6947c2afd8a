"""The citizen's H5 page "我的数据与账号注销" and the download of their data."""

from __future__ import annotations

import json
from typing import Any

from flask import Blueprint, Response, render_template

from app import privacy
from app.auth.models import User
from app.h5 import citizen_page

bp = Blueprint("account_pages", __name__, url_prefix="/h5/me")


def count_items(section: Any) -> int:
    """How many records a section holds: its lists' items (a record that is not a list is one)."""
    if isinstance(section, list):
        return len(section)
    if isinstance(section, dict):
        lists = [v for v in section.values() if isinstance(v, list)]
        return sum(len(v) for v in lists) if lists else 1
    return 0 if section in (None, "") else 1


@bp.get("/data")
@citizen_page
def my_data(citizen: User):
    """What the app holds about me, the download, and the account deletion."""
    exported = privacy.export_user(citizen)
    sections = exported["sections"]
    labels = {step.name: step.label for step in privacy.personal_data_steps()}
    rows = [(labels[name], count_items(sections.get(name))) for name in labels]
    account = sections["account"]
    return render_template(
        "account/my_data.html",
        account=account,
        rows=rows,
        confirm_phrase=privacy.CONFIRM_PHRASE,
        wechat_apps={"miniprogram": "小程序", "mp": "公众号"},
    )


@bp.get("/data.json")
@citizen_page
def my_data_download(citizen: User) -> Response:
    """The same data as GET /api/v1/me/data, as a file to keep."""
    body = json.dumps(privacy.export_user(citizen), ensure_ascii=False, indent=2)
    return Response(body, mimetype="application/json", headers={
        "Content-Disposition": "attachment; filename=my-data.json",
        "Cache-Control": "no-store",
    })  # fmt: skip
