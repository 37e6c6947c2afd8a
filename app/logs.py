"""Logging with a request id on every line; the id is echoed in the X-Request-ID header."""

from __future__ import annotations

import logging
import re
import uuid

from flask import Flask, g, has_request_context, request

_VALID_ID = re.compile(r"^[A-Za-z0-9._-]{8,64}$")


class RequestIdFilter(logging.Filter):
    """Adds ``request_id`` to every record ("-" outside requests)."""

    def filter(self, record: logging.LogRecord) -> bool:
        record.request_id = getattr(g, "request_id", "-") if has_request_context() else "-"
        return True


def configure_logging(app: Flask) -> None:
    """One handler on the root logger, with the request id, and the request-id hooks."""
    root = logging.getLogger()
    if not any(getattr(h, "_zhcg", False) for h in root.handlers):
        handler = logging.StreamHandler()
        handler._zhcg = True  # type: ignore[attr-defined]
        handler.addFilter(RequestIdFilter())
        handler.setFormatter(
            logging.Formatter("%(asctime)s %(levelname)s [%(request_id)s] %(name)s: %(message)s")
        )
        root.addHandler(handler)
    root.setLevel(app.config["LOG_LEVEL"])
    # Alembic announces its plugins at INFO whenever it is imported; keep start-up quiet.
    logging.getLogger("alembic.runtime.plugins").setLevel(logging.WARNING)
    # urllib3 logs full URLs at DEBUG, and sns/jscode2session carries the app secret in its query.
    logging.getLogger("urllib3").setLevel(max(logging.INFO, root.level))

    @app.before_request
    def assign_request_id() -> None:
        incoming = request.headers.get("X-Request-ID", "")
        g.request_id = incoming if _VALID_ID.match(incoming) else uuid.uuid4().hex

    @app.after_request
    def echo_request_id(response):
        response.headers["X-Request-ID"] = getattr(g, "request_id", "-")
        return response
