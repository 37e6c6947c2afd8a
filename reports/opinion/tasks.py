"""What `flask worker` does for the opinion watch each round: fetch the due sources, each claimed
and committed before its download (no transaction is held open over the network)."""

from __future__ import annotations

import logging

from app.db import commit
from app.extensions import db
from reports.opinion import fetcher
from reports.opinion.models import OpinionSource

log = logging.getLogger(__name__)


def fetch_round(limit: int = 20) -> int:
    """Fetch every due source once; returns how many were fetched (0: idle)."""
    done = 0
    for source_id in [s.id for s in fetcher.due_sources(limit)]:
        source = db.session.get(OpinionSource, source_id)
        if source is None or not fetcher.claim(source):
            db.session.rollback()
            continue
        commit()
        outcome = fetcher.fetch_source(source)
        commit()
        log.info("opinion source %s: %s, %s new", source_id, outcome.status, outcome.new_items)
        done += 1
    return done
