"""Logging: one JSON object a line, the request id on every line of a request, secrets redacted.

Every record goes through one handler on the root logger. ``RequestIdFilter`` stamps the id of
the request being served (echoed in the ``X-Request-ID`` header); ``RedactFilter`` removes
credentials before anything is written: ``Authorization``/``Cookie`` values, bearer tokens,
passwords, tokens and secrets given as ``name=value``, ``name: value`` or ``"name": "value"``,
WeChat signatures and nonces, PEM private keys, and the literal values of this app's secret
settings (``SECRET_KEY``, app secrets, API keys). ``LOG_FORMAT=text`` gives the old readable
line for a developer's terminal.
"""

from __future__ import annotations

import json
import logging
import re
import sys
import uuid
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import IO, Any

from flask import Flask, g, has_request_context, request

_VALID_ID = re.compile(r"^[A-Za-z0-9._-]{8,64}$")

REDACTED = "[REDACTED]"

# Names whose values are credentials: any name ending in one of these words, "-" read as "_"
# (access_token, WECHAT_MP_APP_SECRET, msg_signature, nonce_str, Wechatpay-Signature, ...).
_SENSITIVE_ENDINGS = (
    "authorization", "cookie", "token", "secret", "password", "passwd", "signature", "sign",
    "nonce", "noncestr", "nonce_str", "session_key", "js_code", "api_key", "apikey",
    "private_key", "apiv3_key",
)  # fmt: skip
# name=value, name: value, "name": "value", 'name': 'value' (query strings, headers, dicts). A
# name starts a word and is taken whole (possessive), so the scan stays linear.
_PAIR = re.compile(
    r"(?<![\w-])(?P<key>[\w-]++)(?P<q>[\"']?+)(?P<sep>\s*+[:=]\s*+)"
    r"(?P<val>\"(?:[^\"\\]|\\.)*\"|'(?:[^'\\]|\\.)*'|[\"']?[^\s&,;'\"}\])]+)"
)
# The words, lowered with "-" read as "_", that every match of _PAIR changed and of _SCHEME
# holds: ASCII text without any is left alone (substring tests cost a fraction of the patterns'
# scans and of _PAIR's Python call for each pair: a search's access line holds five, twice).
_SENSITIVE_WORDS = (*_SENSITIVE_ENDINGS, "code")
_SCHEME_WORDS = ("bearer", "basic", "token")
_SCHEME = re.compile(r"\b(Bearer|Basic|Token)\s+[A-Za-z0-9._~+/=-]+", re.IGNORECASE)
_PEM = re.compile(r"-----BEGIN [A-Z ]*PRIVATE KEY-----.*?-----END [A-Z ]*PRIVATE KEY-----", re.S)
# Settings whose values must never appear in a log line, whatever carries them.
_SECRET_SETTING = re.compile(r"SECRET|PASSWORD|TOKEN$|PRIVATE_KEY$|APIV3_KEY$|AES_KEY$")
_MIN_SECRET_LENGTH = 8  # shorter values would redact ordinary words

# Attributes every LogRecord has; anything else was passed with ``extra=`` and is logged too.
_STANDARD_ATTRS = frozenset(
    vars(logging.LogRecord("", 0, "", 0, "", None, None)).keys()
    | {"message", "asctime", "request_id", "route", "taskName"}
)


def is_sensitive(name: str) -> bool:
    """True if values under this name are credentials."""
    return name.lower().replace("-", "_").endswith(_SENSITIVE_ENDINGS)


def _is_query_code(match: re.Match[str]) -> bool:
    """``code=`` in a query string: WeChat's OAuth code, exchangeable for the user's openid (a
    ``code`` elsewhere is usually an error or category code, and stays)."""
    start = match.start()
    return match["key"].lower() == "code" and start > 0 and match.string[start - 1] in "?&"


def _redact_pair(match: re.Match[str]) -> str:
    if not (is_sensitive(match["key"]) or _is_query_code(match)):
        return match[0]
    value = match["val"]
    if value.lstrip("\"'").startswith(REDACTED[:-1]):  # redacted already (gunicorn's query)
        return match[0]
    quote = value[0] if value[:1] in {'"', "'"} else ""
    return f"{match['key']}{match['q']}{match['sep']}{quote}{REDACTED}{quote}"


def redact(text: str, secrets: Sequence[str] = ()) -> str:
    """``text`` with credentials replaced by ``[REDACTED]`` (see the module docstring);
    ``secrets``: literal values to remove, longest first."""
    for value in secrets:
        if value in text:
            text = text.replace(value, REDACTED)
    if "PRIVATE KEY-----" in text:
        text = _PEM.sub(REDACTED, text)
    if _may_hold(text, _SCHEME_WORDS):
        text = _SCHEME.sub(lambda m: f"{m[1]} {REDACTED}", text)
    if _may_hold(text, _SENSITIVE_WORDS):
        text = _PAIR.sub(_redact_pair, text)
    return text


def _may_hold(text: str, words: Sequence[str]) -> bool:
    """False only if ``text`` is ASCII and holds none of ``words`` once lowered with "-" read as
    "_" (non-ASCII text may match the patterns through Unicode case folding: it always may)."""
    if not text.isascii():
        return True
    low = text.lower().replace("-", "_")
    return any(word in low for word in words)


def _scrub(value: Any, secrets: Sequence[str]) -> Any:
    """An ``extra=`` value redacted: strings as ``redact`` does, a credential's name's value
    whole, inside dicts and lists too."""
    if isinstance(value, str):
        return redact(value, secrets)
    if isinstance(value, dict):
        return {
            key: REDACTED if is_sensitive(str(key)) else _scrub(item, secrets)
            for key, item in value.items()
        }
    if isinstance(value, list | tuple):
        return [_scrub(item, secrets) for item in value]
    return value


class RequestIdFilter(logging.Filter):
    """Adds ``request_id`` and ``route`` (the URL rule) to every record ("-" outside requests)."""

    def filter(self, record: logging.LogRecord) -> bool:
        if has_request_context():
            record.request_id = getattr(g, "request_id", "-")
            rule = request.url_rule
            record.route = rule.rule if rule is not None else None
        else:
            record.request_id, record.route = "-", None
        return True


class RedactFilter(logging.Filter):
    """Renders the message (and the traceback) and redacts credentials from it, in place, so
    every handler after it writes the redacted text only."""

    def __init__(self) -> None:
        super().__init__()
        self.secrets: tuple[str, ...] = ()  # longest first: a secret inside another goes after

    def add_secrets(self, config: Any) -> None:
        """Remember the values of the secret settings of ``config`` (a Flask config)."""
        found = set(self.secrets)
        for name, value in config.items():
            long_enough = isinstance(value, str) and len(value) >= _MIN_SECRET_LENGTH
            if long_enough and _SECRET_SETTING.search(name):
                found.add(value)
        self.secrets = tuple(sorted(found, key=len, reverse=True))

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:  # noqa: BLE001 - a bad format string: log what we have, still redacted
            message = f"{record.msg!r} {record.args!r}"
        record.msg, record.args = redact(message, self.secrets), None
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = redact(record.exc_text, self.secrets)
        if record.stack_info:
            record.stack_info = redact(record.stack_info, self.secrets)
        for name, value in list(vars(record).items()):
            if name not in _STANDARD_ATTRS:
                secret = is_sensitive(name)
                setattr(record, name, REDACTED if secret else _scrub(value, self.secrets))
        return True


class JsonFormatter(logging.Formatter):
    """One JSON object a line: time (UTC), level, logger, message, request_id, route, the
    traceback as ``exc`` and whatever was passed with ``extra=``."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        request_id = getattr(record, "request_id", "-")
        entry["request_id"] = None if request_id == "-" else request_id
        if getattr(record, "route", None):
            entry["route"] = record.route
        if record.exc_info and not record.exc_text:
            record.exc_text = self.formatException(record.exc_info)
        if record.exc_text:
            entry["exc"] = record.exc_text
        if record.stack_info:
            entry["stack"] = record.stack_info
        for name, value in vars(record).items():
            if name not in _STANDARD_ATTRS and name not in entry:
                entry[name] = value
        return json.dumps(entry, ensure_ascii=False, default=str)


TEXT_FORMAT = "%(asctime)s %(levelname)s [%(request_id)s] %(name)s: %(message)s"


# One redactor for the process: every app built in it adds its secret settings.
REDACTOR = RedactFilter()
# Loggers with handlers of their own (gunicorn's access log carries every query string).
OWN_HANDLER_LOGGERS = ("gunicorn.access", "gunicorn.error")


def build_handler(stream: IO[str] | None = None, fmt: str = "json") -> logging.Handler:
    """The handler: request id, redaction, then JSON (or ``text``) to ``stream`` (stderr)."""
    handler = logging.StreamHandler(stream or sys.stderr)
    handler.addFilter(RequestIdFilter())
    handler.addFilter(REDACTOR)
    handler.setFormatter(logging.Formatter(TEXT_FORMAT) if fmt == "text" else JsonFormatter())
    handler._zhcg = True  # type: ignore[attr-defined]
    return handler


def app_handler() -> logging.Handler | None:
    """The handler ``configure_logging`` put on the root logger (None before it ran, or after
    something replaced the root's handlers)."""
    return next((h for h in logging.getLogger().handlers if getattr(h, "_zhcg", False)), None)


def configure_logging(app: Flask) -> None:
    """One handler on the root logger (JSON, request id, redaction), redaction on gunicorn's
    loggers, and the request-id hooks."""
    root = logging.getLogger()
    REDACTOR.add_secrets(app.config)
    if app_handler() is None:
        fmt = app.config["LOG_FORMAT"]
        # First: the records are redacted in place, so handlers after it write them redacted.
        root.handlers.insert(0, build_handler(fmt=fmt))
    for name in OWN_HANDLER_LOGGERS:
        logging.getLogger(name).addFilter(REDACTOR)
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
