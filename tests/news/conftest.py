"""Editors, a handler and a citizen for the news tests, and a helper to write articles."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from app.auth.models import Role
from app.extensions import db
from app.news.models import NewsArticle, NewsStatus
from tests.reports.conftest import photo  # noqa: F401  (fixture re-exported)

STAFF_API = "/api/v1/staff/news"
PUBLIC_API = "/api/v1/news"


@pytest.fixture
def dispatcher(make_staff):
    return make_staff("news-dispatcher", (Role.DISPATCHER,))


@pytest.fixture
def editor(dispatcher, auth_header) -> dict[str, str]:
    """A dispatcher's Authorization header (dispatchers and admins edit news)."""
    return auth_header(dispatcher)


@pytest.fixture
def handler(make_staff, make_department, auth_header) -> dict[str, str]:
    """A department handler's Authorization header (not an editor)."""
    dept = make_department("NEWS-H", "测试处置单位")
    return auth_header(make_staff("news-handler", (Role.HANDLER,), department=dept))


@pytest.fixture
def article(db_session):
    """Factory: an article straight in the table (published ones at ``published_at``)."""

    def make(title: str = "关于开展市容整治的通告", status: NewsStatus = NewsStatus.DRAFT,
             published_at: datetime | None = None, body: str = "第一段。\n第二段。",
             **fields: Any) -> NewsArticle:  # fmt: skip
        if status == NewsStatus.PUBLISHED and published_at is None:
            published_at = datetime(2026, 11, 1, 2, tzinfo=UTC)
        a = NewsArticle(title=title, body=body, status=status, published_at=published_at,
                        **fields)  # fmt: skip
        db.session.add(a)
        db.session.flush()
        return a

    return make
