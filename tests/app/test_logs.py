"""Logs: one JSON object a line, the request id on every line of a request, no credentials."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Iterator

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from app import create_app, logs
from app.logs import REDACTED, REDACTOR, JsonFormatter, app_handler, build_handler, redact

REQUEST_ID = "trace-0001-abcdef"
PEM = "-----BEGIN PRIVATE KEY-----\nMIIEvQIBADANBgkqhkiG9w0BAQEFAASC\n-----END PRIVATE KEY-----"


@pytest.fixture
def log_output(app) -> Iterator[io.StringIO]:
    """What the app's log handler writes, for this test (with the session app's secrets)."""
    stream = io.StringIO()
    handler = build_handler(stream)
    root = logging.getLogger()
    level = root.level
    root.addHandler(handler)
    root.setLevel(logging.INFO)
    yield stream
    root.removeHandler(handler)
    root.setLevel(level)


def lines(stream: io.StringIO) -> list[dict]:
    """Every line written, parsed: each must be one JSON object."""
    return [json.loads(line) for line in stream.getvalue().splitlines()]


def test_every_line_of_a_request_is_json_with_its_request_id(app, client, log_output, monkeypatch):
    def failing_view():
        logging.getLogger("zhcg.test").info("checking the probe")
        logging.getLogger("zhcg.test").warning("probe slow", extra={"elapsed_ms": 812})
        raise RuntimeError("the probe broke")

    monkeypatch.setitem(app.view_functions, "health.healthz", failing_view)
    resp = client.get("/healthz", headers={"X-Request-ID": REQUEST_ID})

    assert resp.status_code == 500
    assert resp.headers["X-Request-ID"] == REQUEST_ID
    assert resp.get_json()["error"]["code"] == "internal_error"
    entries = lines(log_output)
    assert [e["message"] for e in entries[:2]] == ["checking the probe", "probe slow"]
    assert len(entries) == 3  # the two lines of the view and the unhandled error
    assert {e["request_id"] for e in entries} == {REQUEST_ID}
    assert {e["route"] for e in entries} == {"/healthz"}
    assert entries[1]["elapsed_ms"] == 812 and entries[1]["level"] == "WARNING"
    assert "RuntimeError: the probe broke" in entries[2]["exc"]
    assert entries[2]["time"].endswith("+00:00")


def test_a_generated_request_id_is_the_one_logged(app, client, log_output, monkeypatch):
    def view():
        logging.getLogger("zhcg.test").warning("no id given")
        return "ok"

    monkeypatch.setitem(app.view_functions, "health.healthz", view)
    resp = client.get("/healthz", headers={"X-Request-ID": "bad id"})
    [entry] = lines(log_output)
    assert entry["request_id"] == resp.headers["X-Request-ID"] != "bad id"


def test_lines_outside_a_request_have_no_request_id(log_output):
    logging.getLogger("zhcg.worker").warning("round done")
    [entry] = lines(log_output)
    assert entry["request_id"] is None and entry["message"] == "round done"


def test_credentials_never_reach_the_log(app, client, log_output, monkeypatch):
    """What a careless log line or a traceback could carry, from a request and outside one."""
    secret_key = app.config["SECRET_KEY"]
    app_secret = app.config["WECHAT_MINI_APP_SECRET"]
    leaks = {
        "bearer": "tok_9f8e7d6c5b4a",
        "password": "hunter2-correct-horse",
        "signature": "5d1c9e0f8b7a6d5c4b3a29180716f5e4d3c2b1a0",
        "nonce": "1986452013",
        "msg_signature": "a1b2c3d4e5f60718293a4b5c6d7e8f9012345678",
        "session_key": "HyVFkGl5F5OQWJZZaNzBBg==",
        "access_token": "ACCESS_TOKEN_0123456789",
    }

    def view():
        log = logging.getLogger("zhcg.test")
        log.warning("headers %s", {"Authorization": f"Bearer {leaks['bearer']}", "Accept": "*/*"})
        log.warning(
            "callback /wechat/mp?signature=%s&timestamp=1700000000&nonce=%s&openid=o-abc",
            leaks["signature"],
            leaks["nonce"],
        )
        log.warning('body {"username": "admin", "password": "%s"}', leaks["password"])
        log.warning("Wechatpay-Signature: %s", leaks["signature"])
        log.warning("config SECRET_KEY %s and app secret %s", secret_key, app_secret)
        log.warning("key %s", PEM)
        log.warning("decrypt failed", extra={"session_key": leaks["session_key"]})
        log.warning("sign-in", extra={"form": {"username": "admin", "password": leaks["password"]}})
        try:
            raise ValueError(f"bad reply for access_token={leaks['access_token']}")
        except ValueError:
            log.exception("wechat call failed msg_signature=%s", leaks["msg_signature"])
        return "ok"

    monkeypatch.setitem(app.view_functions, "health.healthz", view)
    assert client.get("/healthz").status_code == 200
    text = log_output.getvalue()
    for name, value in [*leaks.items(), ("SECRET_KEY", secret_key), ("app secret", app_secret)]:
        assert value not in text, name
    assert "PRIVATE KEY" not in text and "MIIEvQ" not in text
    assert text.count(REDACTED) >= 10
    # What is not a credential stays readable.
    assert "timestamp=1700000000" in text and "openid=o-abc" in text
    assert '\\"username\\": \\"admin\\"' in text and "Accept" in text
    assert "bad reply for access_token=" in text


@pytest.mark.parametrize(
    ("line", "kept"),
    [
        ("Authorization: Bearer abc.def-ghi", "Authorization: "),
        ("GET /wechat/mp?signature=ff00&nonce=123&echostr=hello", "echostr=hello"),
        ("{'password': 'p@ss word', 'user': 'li'}", "'user': 'li'"),
        ('{"app_secret":"s3cr3t!","appid":"wx1"}', '"appid":"wx1"'),
        ("paySign=XYZ&package=prepay_id", "package=prepay_id"),
        ("Cookie: zhcg_session=eyJhbGciOi; other=1", "Cookie: "),
        ("citizen 5 signed in via OAuth (new=True)", "citizen 5 signed in via OAuth (new=True)"),
        # WeChat's OAuth code in a URL (it buys the openid); an error's code stays.
        ("GET /sns/oauth2/access_token?appid=wx1&code=ff00&grant_type=x", "grant_type=x"),
        ("GET /wechat/oauth/callback?code=123&state=h5 error code=invalid_token", "code=invalid"),
        # Redacted once, not again (gunicorn's access log arrives redacted).
        ("GET /wechat/mp?signature=[REDACTED]&x=1", "signature=[REDACTED]&x=1"),
    ],
)
def test_redact_keeps_the_context_and_drops_the_value(line, kept):
    out = redact(line)
    assert kept in out
    for secret in ("abc.def-ghi", "ff00", "123", "p@ss", "s3cr3t", "XYZ", "eyJhbGciOi"):
        assert secret not in out


def test_configure_logging_installs_the_json_handler_with_the_apps_secrets(app):
    """A new app (as gunicorn builds one) logs JSON and knows its own secret settings."""
    root = logging.getLogger()
    saved = root.handlers[:]
    root.handlers = [h for h in saved if not getattr(h, "_zhcg", False)]
    try:
        other = create_app("testing", {"WECHAT_MP_APP_SECRET": "mp-secret-only-this-app-has"})
        handler = app_handler()
        assert handler is not None and isinstance(handler.formatter, JsonFormatter)
        assert REDACTOR in handler.filters
        assert "mp-secret-only-this-app-has" in REDACTOR.secrets
        assert other.config["SECRET_KEY"] in REDACTOR.secrets
        assert "zhcg:wechat" not in REDACTOR.secrets  # a key prefix, not a secret
    finally:
        root.handlers = saved


def test_gunicorns_access_log_is_redacted_too(app):
    """gunicorn's access log has its own handler and logs every query string (WeChat's
    callbacks carry their signature and nonce there)."""
    stream = io.StringIO()
    access = logging.getLogger("gunicorn.access")
    handler = logging.StreamHandler(stream)
    access.addHandler(handler)
    level = access.level
    access.setLevel(logging.INFO)
    try:
        atoms = {
            "r": "POST /wechat/mp?signature=9a8b7c6d&timestamp=1700000000&nonce=31337 HTTP/1.1"
        }
        access.info('"%(r)s" 200', atoms)
    finally:
        access.removeHandler(handler)
        access.setLevel(level)
    line = stream.getvalue()
    assert "9a8b7c6d" not in line and "31337" not in line
    assert "timestamp=1700000000" in line


# Log text as runs of pairs: credential names in every spelling the patterns know, harmless
# names holding their words, separators, quotes, values, schemes, a private key, and characters
# that Unicode case folding turns into ASCII letters.
_KEYS = [
    "access_token",
    "ACCESS-TOKEN",
    "Token",
    "paySign",
    "nonce-str",
    "NONCE_STR",
    "js_code",
    "code",
    "Code",
    "error_code",
    "session-key",
    "password",
    "Authorization",
    "Cookie",
    "tokens",
    "signs",
    "codes",
    "kind",
    "lat",
    "coord_sys",
    "appid",
    "to\u212aen",
    "pa\u017f\u017fword",
    "令牌",
]
_TEXT = st.lists(
    st.tuples(
        st.sampled_from(["", "?", "&", " ", "{", '"', "'", "-", "_", "/api/v1/nearby?", "x"]),
        st.sampled_from(_KEYS),
        st.sampled_from(["", '"', "'"]),
        st.sampled_from(["=", ":", ": ", " = ", " ", ""]),
        st.sampled_from(["ff00", "41.812345", '"abc def"', "'p q'", "[REDACTED]", "Bearer abc.d",
                         "basic Zm9v", "Ba\u017fic Zm9v", "", PEM]),
    ).map("".join),
    max_size=8,
).map("".join)  # fmt: skip


@settings(max_examples=500, deadline=None)
@given(_TEXT)
def test_the_cheap_word_tests_never_change_what_is_redacted(text):
    """``redact`` skips a pattern when the text cannot hold what it matches; the answer is the
    one all three patterns give (non-ASCII text, where case folding reaches further, included)."""
    full = logs._PAIR.sub(
        logs._redact_pair,
        logs._SCHEME.sub(lambda m: f"{m[1]} {REDACTED}", logs._PEM.sub(REDACTED, text)),
    )
    assert redact(text) == full
