"""城管动态 H5 pages: the list and one article, readable without signing in."""

from __future__ import annotations

from flask import Blueprint, render_template, request

from app.errors import NotFound
from app.news import service

bp = Blueprint("news_pages", __name__, url_prefix="/h5/news")

PER_PAGE = 10


@bp.get("")
def news_list():
    """Published articles, newest first, ten a page (?page=)."""
    page = max(1, min(request.args.get("page", 1, type=int) or 1, 100000))
    items, total = service.public_list(page, PER_PAGE)
    pages = max(1, -(-total // PER_PAGE))
    return render_template("news/list.html", items=[service.public_view(a) for a in items],
                           total=total, page=page, pages=pages)  # fmt: skip


@bp.get("/<int:article_id>")
def news_detail(article_id: int):
    """One published article; drafts and withdrawn articles are a friendly 404."""
    try:
        article = service.public_article(article_id)
    except NotFound as exc:
        return render_template("news/missing.html", message=exc.message), 404
    return render_template("news/detail.html", a=service.public_view(article))
