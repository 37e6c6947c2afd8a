"""News operations: list, write, publish and withdraw articles; what each audience sees.

Services flush, never commit (the view commits once). Every staff write is audited.
"""

from __future__ import annotations

import logging
from datetime import timedelta
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import selectinload

from app import audit
from app.auth.models import StaffUser
from app.db import check_version, flush_versioned, utcnow
from app.errors import InvalidTransition, NotFound, ValidationFailed
from app.extensions import db
from app.media.models import Media
from app.media.service import signed_url
from app.news.models import NewsArticle, NewsStatus

log = logging.getLogger(__name__)

STALE = "该文章已被他人修改，请刷新后重试"
EDITABLE = ("title", "summary", "body")
LOADS = (selectinload(NewsArticle.cover), selectinload(NewsArticle.author))


# ---------------------------------------------------------------- reading


def _page(query, page: int, per_page: int) -> tuple[list[NewsArticle], int]:
    total = db.session.scalar(select(func.count()).select_from(query.order_by(None).subquery()))
    items = db.session.scalars(query.options(*LOADS).limit(per_page).offset((page - 1) * per_page))
    return list(items), total or 0


def staff_list(status: str | None, page: int, per_page: int) -> tuple[list[NewsArticle], int]:
    """Every article (or those in one status), most recently edited first."""
    query = select(NewsArticle).order_by(NewsArticle.updated_at.desc(), NewsArticle.id.desc())
    if status:
        query = query.where(NewsArticle.status == NewsStatus(status))
    return _page(query, page, per_page)


def public_list(page: int, per_page: int) -> tuple[list[NewsArticle], int]:
    """Published articles, newest first."""
    query = (select(NewsArticle).where(NewsArticle.status == NewsStatus.PUBLISHED)
             .order_by(NewsArticle.published_at.desc(), NewsArticle.id.desc()))  # fmt: skip
    return _page(query, page, per_page)


def get_article(article_id: int) -> NewsArticle:
    """Any article, for staff; 404 if it does not exist."""
    article = db.session.get(NewsArticle, article_id)
    if article is None:
        raise NotFound("文章不存在", code="news_not_found")
    return article


def public_article(article_id: int) -> NewsArticle:
    """A published article; drafts and withdrawn ones are 404 (not revealed)."""
    article = db.session.get(NewsArticle, article_id)
    if article is None or article.status != NewsStatus.PUBLISHED:
        raise NotFound("文章不存在或已撤回", code="news_not_found")
    return article


def _cover_view(article: NewsArticle) -> dict[str, str] | None:
    if article.cover is None:
        return None
    return {"id": article.cover.public_id, "url": signed_url(article.cover).url}


def public_view(article: NewsArticle) -> dict[str, Any]:
    """What citizens read: no author, no status, no editing data."""
    return {"id": article.id, "title": article.title, "summary": article.excerpt,
            "body": article.body, "paragraphs": article.paragraphs,
            "cover": _cover_view(article), "published_at": article.published_at}  # fmt: skip


def staff_view(article: NewsArticle) -> dict[str, Any]:
    """What editors see: the public view plus status, author, times and version."""
    return public_view(article) | {
        "summary": article.summary,
        "status": article.status.value,
        "status_label": article.status.label,
        "author": article.author.display_name if article.author else None,
        "created_at": article.created_at,
        "updated_at": article.updated_at,
        "version": article.version,
    }


# ---------------------------------------------------------------- writing


def _cover(public_id: str | None) -> Media | None:
    """The cover photo by its public id: it must exist and have been uploaded by staff."""
    if not public_id:
        return None
    media = db.session.scalar(select(Media).where(Media.public_id == public_id))
    if media is None or media.staff_id is None:
        raise ValidationFailed(fields={"cover": ["封面图片不存在，请重新上传"]})
    return media


def _audited(article: NewsArticle) -> dict[str, Any]:
    return {"title": article.title, "summary": article.summary, "body": article.body,
            "cover": article.cover.public_id if article.cover else None}  # fmt: skip


def create_article(data: dict[str, Any], staff: StaffUser) -> NewsArticle:
    """A new draft written by ``staff``."""
    article = NewsArticle(title=data["title"], summary=data.get("summary") or "",
                          body=data["body"], cover=_cover(data.get("cover")),
                          status=NewsStatus.DRAFT, author_staff_id=staff.id)  # fmt: skip
    db.session.add(article)
    flush_versioned(STALE)
    audit.record("news.create", "news_article", article.id, actor=staff, after=_audited(article))
    log.info("news %s created by %s", article.id, staff.username)
    return article


def update_article(article: NewsArticle, data: dict[str, Any], staff: StaffUser) -> NewsArticle:
    """Edit an article in any status (a published one changes at once); 409 if stale."""
    check_version(article, data["version"], STALE)
    before = _audited(article)
    for key in EDITABLE:
        if key in data:
            setattr(article, key, data[key] or "")
    if "cover" in data:
        article.cover = _cover(data["cover"])
    after = _audited(article)
    changed = sorted(k for k in after if after[k] != before[k])
    if changed:
        flush_versioned(STALE)
        audit.record("news.update", "news_article", article.id, actor=staff,
                     before={k: before[k] for k in changed},
                     after={k: after[k] for k in changed})  # fmt: skip
        log.info("news %s updated by %s: %s", article.id, staff.username, changed)
    return article


def publish(article: NewsArticle, staff: StaffUser, version: int | None = None) -> NewsArticle:
    """Publish a draft or a withdrawn article. A republished article keeps its first publication
    time, so a corrected notice does not jump to the top as news."""
    check_version(article, version, STALE)
    if article.status == NewsStatus.PUBLISHED:
        raise InvalidTransition("文章已发布")
    article.status = NewsStatus.PUBLISHED
    article.published_at = article.published_at or utcnow()
    flush_versioned(STALE)
    audit.record("news.publish", "news_article", article.id, actor=staff, title=article.title)
    log.info("news %s published by %s", article.id, staff.username)
    return article


def withdraw(article: NewsArticle, staff: StaffUser, version: int | None = None) -> NewsArticle:
    """Take a published article off the public pages."""
    check_version(article, version, STALE)
    if article.status != NewsStatus.PUBLISHED:
        raise InvalidTransition("只有已发布的文章可以撤回")
    article.status = NewsStatus.WITHDRAWN
    flush_versioned(STALE)
    audit.record("news.withdraw", "news_article", article.id, actor=staff, title=article.title)
    log.info("news %s withdrawn by %s", article.id, staff.username)
    return article


# ---------------------------------------------------------------- demo data

DEMO_NOTE = "（本文为演示系统的示例内容。）"
DEMO_ARTICLES = (
    (1, "关于开展春季市容环境集中整治的通告",
     "即日起至5月底，在全市范围开展春季市容环境集中整治，重点清理积存垃圾和乱堆物料。",
     "为改善城市环境，市城市管理综合行政执法局决定在全市开展春季市容环境集中整治。\n"
     "整治重点：背街小巷积存垃圾、建筑渣土、占道乱堆物料、沿街违规张贴小广告。\n"
     "请沿街商户落实“门前三包”责任，及时清理门前杂物。\n"
     "市民发现问题，可通过“智慧城管”公众号“我要上报”拍照反映，我们将及时派遣处置。"),
    (5, "“随手拍”上报城市管理问题操作指引",
     "拍照、定位、描述三步，即可上报井盖破损、垃圾堆积等问题，并随时查看办理进度。",
     "第一步：在公众号菜单进入“我要上报”，拍摄或从相册选择现场照片。\n"
     "第二步：确认问题位置，可使用当前定位，也可在地图上选点。\n"
     "第三步：简要描述问题，例如“小区门口雨水井盖破损”，提交即可。\n"
     "提交后可在“我的上报”查看受理、派遣、处置和结案的全过程，结案后欢迎对处置结果进行评价。\n"
     "请勿上报与城市管理无关的内容；涉及人身安全的紧急情况请直接拨打110。"),
    (12, "冬季清雪作业期间临时停车提示",
     "降雪期间主次干道夜间开展机械清雪，请市民配合将车辆停放在路外停车场。",
     "降雪后，环卫部门将于当晚22时至次日6时对主次干道进行机械清雪作业。\n"
     "作业期间，请勿在作业路段路边停车，以免影响清雪进度。\n"
     "可在“好停车”页面查找附近停车场及空余车位。\n"
     "发现道路积雪结冰、井盖冻胀等问题，欢迎通过“我要上报”反映。"),
)  # fmt: skip


def seed_demo_news(author: StaffUser | None) -> int:
    """Three published demo notices, once (skipped when any article exists); how many added."""
    if db.session.scalar(select(func.count()).select_from(NewsArticle)):
        return 0
    now = utcnow()
    for days_ago, title, summary, body in DEMO_ARTICLES:
        when = now - timedelta(days=days_ago)
        db.session.add(NewsArticle(title=title, summary=summary, body=f"{body}\n{DEMO_NOTE}",
                                   status=NewsStatus.PUBLISHED, published_at=when,
                                   created_at=when, updated_at=when,
                                   author_staff_id=author.id if author else None))  # fmt: skip
    db.session.flush()
    return len(DEMO_ARTICLES)
