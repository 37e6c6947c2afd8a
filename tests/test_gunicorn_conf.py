"""gunicorn.conf.py as gunicorn reads it: request-line limits above the app's own 414, and an
access log that never prints WeChat's signatures, nonces, timestamps or echoed strings."""

from __future__ import annotations

import io
import json
import logging
from datetime import timedelta
from pathlib import Path
from types import SimpleNamespace

import pytest
from gunicorn.app.base import Application
from gunicorn.config import Config

from config import get_config

CONF = Path(__file__).parents[1] / "gunicorn.conf.py"


class _ConfigOnly(Application):
    """gunicorn's own loader, without parsing this process's command line."""

    def __init__(self) -> None:  # noqa: D107 - Application.__init__ would read sys.argv
        self.usage, self.prog, self.callable = None, None, None
        self.cfg = Config()

    def init(self, parser, opts, args):
        return None

    def load(self):
        return None


@pytest.fixture
def cfg(monkeypatch) -> Config:
    """The settings gunicorn builds from gunicorn.conf.py (with no GUNICORN_* overrides)."""
    for name in ("GUNICORN_LIMIT_REQUEST_LINE", "GUNICORN_LIMIT_REQUEST_FIELD_SIZE",
                 "GUNICORN_ACCESS_LOG", "GUNICORN_CMD_ARGS"):  # fmt: skip
        monkeypatch.delenv(name, raising=False)
    loader = _ConfigOnly()
    loader.load_config_from_file(str(CONF))
    return loader.cfg


def test_request_line_limit_leaves_room_for_the_apps_own_414(cfg):
    app_limit = get_config("production").MAX_URI_LENGTH
    # "GET <target> HTTP/1.1": a target the app refuses still reaches the app.
    assert cfg.limit_request_line >= app_limit + len("OPTIONS  HTTP/1.1") + 1
    assert cfg.limit_request_line <= 8190  # gunicorn's maximum; 0 would mean unlimited
    assert cfg.limit_request_line > 4094  # gunicorn's default, which sent its HTML 414
    assert 8190 < cfg.limit_request_field_size <= 32768


def access_line(cfg: Config, method: str, raw_uri: str) -> str:
    """The access-log line gunicorn's configured logger writes for one request."""
    logger = cfg.logger_class(cfg)
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    logger.access_log.addHandler(handler)
    try:
        path, _, query = raw_uri.partition("?")
        environ = {"REQUEST_METHOD": method, "RAW_URI": raw_uri, "PATH_INFO": path,
                   "QUERY_STRING": query, "SERVER_PROTOCOL": "HTTP/1.1",
                   "REMOTE_ADDR": "101.226.103.0"}  # fmt: skip
        resp = SimpleNamespace(status="200 OK", headers=[("X-Request-ID", "r" * 32)], sent=7)
        logger.access(resp, SimpleNamespace(headers=[]), environ, timedelta(milliseconds=12))
    finally:
        logger.access_log.removeHandler(handler)
    return stream.getvalue()


SIGNATURE, MSG_SIGNATURE = "16120ec1b8dbb870f510d87ce6bc2463eae6ca1a", "5d197aaffba7e9b25a3073"
TIMESTAMP, NONCE, ECHOSTR = "1409735669", "1320562132", "4375120948345356249"


def test_access_log_line_has_no_signature_nonce_timestamp_or_echostr(cfg):
    query = (f"signature={SIGNATURE}&timestamp={TIMESTAMP}&nonce={NONCE}&openid=oyORnuP8q7ou"
             f"&encrypt_type=aes&msg_signature={MSG_SIGNATURE}&echostr={ECHOSTR}")  # fmt: skip
    line = access_line(cfg, "POST", f"/wechat/mp?{query}")
    for secret in (SIGNATURE, MSG_SIGNATURE, TIMESTAMP, NONCE, ECHOSTR):
        assert secret not in line, line
    assert '"POST /wechat/mp?signature=[REDACTED' in line  # the names stay, for reading the log
    assert "&openid=oyORnuP8q7ou&encrypt_type=aes&" in line and "200 7 12ms" in line


def test_access_log_keeps_ordinary_queries(cfg):
    line = access_line(cfg, "GET", "/api/v1/news?page=2&per_page=20")
    assert '"GET /api/v1/news?page=2&per_page=20 HTTP/1.1" 200' in line


@pytest.mark.parametrize(
    "query", ["access_token=abc123secret", "code=031Xyz0w3AbCdE&state=h5", "sign=abc123secret"]
)
def test_access_log_hides_other_credentials_in_queries(cfg, query):
    line = access_line(cfg, "GET", f"/wechat/oauth/callback?{query}")
    assert "abc123secret" not in line and "031Xyz0w3AbCdE" not in line


def test_gunicorn_lines_are_the_apps_json_lines(cfg, monkeypatch):
    """With LOG_FORMAT=json (the default), gunicorn's access and error lines are JSON objects
    with the request id and the access fields as keys; the query is still redacted."""
    monkeypatch.delenv("LOG_FORMAT", raising=False)
    logger = cfg.logger_class(cfg)
    stream = io.StringIO()
    for log in (logger.access_log, logger.error_log):
        handler = next(h for h in log.handlers if getattr(h, "_gunicorn", False))
        monkeypatch.setattr(handler, "stream", stream)
    environ = {"REQUEST_METHOD": "GET", "RAW_URI": f"/wechat/mp?signature={SIGNATURE}&x=1",
               "PATH_INFO": "/wechat/mp", "QUERY_STRING": f"signature={SIGNATURE}&x=1",
               "SERVER_PROTOCOL": "HTTP/1.1", "REMOTE_ADDR": "101.226.103.0"}  # fmt: skip
    resp = SimpleNamespace(status="503 SERVICE UNAVAILABLE", sent=88,
                           headers=[("X-Request-ID", "r" * 32)])  # fmt: skip
    logger.access(resp, SimpleNamespace(headers=[]), environ, timedelta(milliseconds=12))
    logger.error("worker %s booted", 42)
    access, error = (json.loads(line) for line in stream.getvalue().splitlines())
    assert SIGNATURE not in stream.getvalue()
    assert access["logger"] == "gunicorn.access" and access["request_id"] == "r" * 32
    assert access["status"] == 503 and access["duration_ms"] == 12 and access["bytes"] == 88
    assert access["path"] == "/wechat/mp?signature=[REDACTED]&x=1" and access["method"] == "GET"
    assert error["logger"] == "gunicorn.error" and error["message"] == "worker 42 booted"
    assert error["level"] == "ERROR"


def test_log_format_text_keeps_gunicorns_own_lines(cfg, monkeypatch):
    monkeypatch.setenv("LOG_FORMAT", "text")
    logger = cfg.logger_class(cfg)
    stream = io.StringIO()
    handler = next(h for h in logger.error_log.handlers if getattr(h, "_gunicorn", False))
    monkeypatch.setattr(handler, "stream", stream)
    logger.error("worker %s booted", 42)
    assert stream.getvalue().rstrip().endswith("[ERROR] worker 42 booted")
