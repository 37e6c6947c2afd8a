"""Console page 城管动态: the article list with its status, and the editor (write, publish,
withdraw). The page script calls /api/v1/staff/news, which checks the roles again."""

from __future__ import annotations

from flask import url_for

from app.auth.models import Role, StaffUser
from app.console import bp, nav_item, render, staff_page
from app.news.models import SUMMARY_MAX, TITLE_MAX, NewsStatus

EDITORS = (Role.ADMIN, Role.DISPATCHER)


@nav_item("城管动态", EDITORS, order=70)
@bp.get("/news")
@staff_page(*EDITORS)
def news(staff: StaffUser):
    """Articles (server-paged, filtered by status) and the create/edit form."""
    config = {
        "api": url_for("news_staff.StaffNewsList"),
        "media": url_for("media.MediaCollection"),
        "public": url_for("news_pages.news_list"),
        "statuses": {s.value: s.label for s in NewsStatus},
    }
    statuses = [(s.value, s.label) for s in NewsStatus]
    return render("console/news.html", staff, config=config, statuses=statuses,
                  title_max=TITLE_MAX, summary_max=SUMMARY_MAX)  # fmt: skip
