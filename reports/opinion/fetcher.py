"""Fetching one source over HTTP: conditional GET (If-None-Match / If-Modified-Since), a timeout,
a size cap, and the per-source error count with backoff. What comes back is parsed
(reports.opinion.parse) and stored by reports.opinion.service.store_posts.

The worker's round (reports.opinion.tasks) claims each due source with a conditional UPDATE of
its ``next_fetch_at``, so two workers never fetch the same source at once.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import timedelta

import requests
from flask import current_app
from sqlalchemy import or_, select, update

from app.db import utcnow
from app.extensions import db
from reports.opinion import parse, service
from reports.opinion.models import OpinionSource

log = logging.getLogger(__name__)
USER_AGENT = "zhcg-opinion-watch/1.0"
ACCEPT = {
    "rss": "application/rss+xml, application/xml;q=0.9, text/xml;q=0.8, */*;q=0.1",
    "atom": "application/atom+xml, application/xml;q=0.9, */*;q=0.1",
    "json": "application/feed+json, application/json;q=0.9, */*;q=0.1",
    "page": "text/html, application/xhtml+xml;q=0.9, */*;q=0.1",
}


class FetchError(Exception):
    """The source could not be read (the message is for staff, in Chinese)."""


@dataclass
class Outcome:
    """What one fetch of a source gave."""

    status: str  # ok | not_modified | error
    new_items: int = 0
    error: str | None = None


def due_sources(limit: int = 20) -> list[OpinionSource]:
    """Active sources whose next fetch is due, the longest waiting first."""
    now = utcnow()
    return list(
        db.session.scalars(
            select(OpinionSource)
            .where(
                OpinionSource.is_active.is_(True),
                or_(OpinionSource.next_fetch_at.is_(None), OpinionSource.next_fetch_at <= now),
            )
            .order_by(OpinionSource.next_fetch_at.is_(None).desc(), OpinionSource.next_fetch_at)
            .limit(limit)
        )
    )


def claim(source: OpinionSource) -> bool:
    """Take the source for this fetch: move its next fetch a lease ahead, if nobody moved it
    since it was read (False: another worker has it)."""
    lease = utcnow() + timedelta(minutes=5)
    claimed = db.session.execute(
        update(OpinionSource)
        .where(OpinionSource.id == source.id, OpinionSource.version == source.version)
        .values(next_fetch_at=lease, version=OpinionSource.version + 1)
        .execution_options(synchronize_session=False)
    ).rowcount
    if claimed:
        db.session.refresh(source)
    return bool(claimed)


def download(source: OpinionSource) -> tuple[int, bytes | None, dict[str, str]]:
    """(status, body or None for 304, headers) of a conditional GET; FetchError otherwise."""
    headers = {"User-Agent": USER_AGENT, "Accept": ACCEPT.get(source.kind.value, "*/*")}
    if source.etag:
        headers["If-None-Match"] = source.etag
    if source.last_modified:
        headers["If-Modified-Since"] = source.last_modified
    timeout = current_app.config["OPINION_FETCH_TIMEOUT"]
    cap = current_app.config["OPINION_MAX_BYTES"]
    try:
        with requests.get(
            source.url, headers=headers, timeout=timeout, stream=True, allow_redirects=True
        ) as resp:
            if resp.status_code == 304:
                return 304, None, dict(resp.headers)
            if resp.status_code != 200:
                raise FetchError(f"网站返回错误（HTTP {resp.status_code}）")
            declared = resp.headers.get("Content-Length")
            if declared and declared.isdigit() and int(declared) > cap:
                raise FetchError(f"内容超过上限（{cap // 1024} KB）")
            chunks, size = [], 0
            for chunk in resp.iter_content(64 * 1024):
                size += len(chunk)
                if size > cap:
                    raise FetchError(f"内容超过上限（{cap // 1024} KB）")
                chunks.append(chunk)
            return 200, b"".join(chunks), dict(resp.headers)
    except requests.Timeout:
        raise FetchError(f"连接超时（{timeout:g} 秒）") from None
    except (requests.RequestException, ValueError):  # ValueError: a URL or header it refuses
        raise FetchError("无法连接到网站，请检查网址") from None


def fetch_source(source: OpinionSource) -> Outcome:
    """Fetch, parse and store one source; record the outcome and schedule the next fetch."""
    now = utcnow()
    source.last_fetched_at = now
    try:
        status, content, headers = download(source)
        if status == 304:
            outcome = Outcome("not_modified")
        else:
            posts = parse.parse(source.kind.value, content or b"", source.url, source.rule)
            outcome = Outcome("ok", service.store_posts(source, posts))
            source.etag = (headers.get("ETag") or "")[:200] or None
            source.last_modified = (headers.get("Last-Modified") or "")[:64] or None
    except (FetchError, parse.ParseError) as exc:
        outcome = Outcome("error", error=str(exc))
    source.last_status = outcome.status
    if outcome.status == "error":
        source.error_count += 1
        source.last_error = (outcome.error or "")[:500]
        source.next_fetch_at = now + backoff(source)
        log.warning(
            "opinion source %s failed (%s times): %s", source.id, source.error_count, outcome.error
        )
    else:
        source.error_count = 0
        source.last_error = None
        source.items_found += outcome.new_items
        source.next_fetch_at = now + timedelta(minutes=source.interval_minutes)
    db.session.flush()
    return outcome


def backoff(source: OpinionSource) -> timedelta:
    """After n errors in a row: the interval times 2**n, at most OPINION_MAX_BACKOFF_MINUTES."""
    cap = current_app.config["OPINION_MAX_BACKOFF_MINUTES"]
    minutes = source.interval_minutes * 2 ** min(source.error_count, 10)
    return timedelta(minutes=min(minutes, max(cap, source.interval_minutes)))
