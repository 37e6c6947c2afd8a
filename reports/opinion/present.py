"""What the APIs and pages show of items, sources and keyword lists (one presenter for both)."""

from __future__ import annotations

from typing import Any

from reports.opinion import service
from reports.opinion.models import OpinionItem, OpinionSource


def _iso(at) -> str | None:
    return at.isoformat() if at else None


def item_view(item: OpinionItem, *, detail: bool = False) -> dict[str, Any]:
    view = {
        "id": item.id,
        "source_id": item.source_id,
        "source": item.source.name,
        "title": item.title,
        "link": item.link,
        "author": item.author,
        "published_at": _iso(item.published_at),
        "found_at": _iso(item.found_at),
        "state": item.state.value,
        "state_label": item.state.label,
        "relevant": item.relevant,
        "suggested_category": item.suggested_category,
        "suggested_category_name": service.category_name(item.suggested_category),
        "confidence": item.confidence,
        "keywords": item.keywords or [],
        "case_number": item.case_number,
        "replied": item.reply_text is not None,
        "followed_up": item.followup_result is not None,
        "version": item.version,
    }
    if detail:
        view |= {
            "body": item.body,
            "decided_by": item.decided_by.display_name if item.decided_by else None,
            "decided_at": _iso(item.decided_at),
            "note": item.note,
            "reply_text": item.reply_text,
            "replied_at": _iso(item.replied_at),
            "replied_by": item.replied_by.display_name if item.replied_by else None,
            "followup_result": item.followup_result,
            "satisfaction": item.satisfaction.value if item.satisfaction else None,
            "satisfaction_label": item.satisfaction.label if item.satisfaction else None,
            "followed_up_at": _iso(item.followed_up_at),
            "followed_up_by": item.followed_up_by.display_name if item.followed_up_by else None,
        }
    return view


def source_view(source: OpinionSource) -> dict[str, Any]:
    return {
        "id": source.id,
        "name": source.name,
        "kind": source.kind.value,
        "kind_label": source.kind.label,
        "url": source.url,
        "rule": source.rule,
        "is_active": source.is_active,
        "interval_minutes": source.interval_minutes,
        "last_fetched_at": _iso(source.last_fetched_at),
        "next_fetch_at": _iso(source.next_fetch_at),
        "last_status": source.last_status,
        "last_error": source.last_error,
        "error_count": source.error_count,
        "items_found": source.items_found,
        "version": source.version,
    }
