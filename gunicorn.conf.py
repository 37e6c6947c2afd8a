"""gunicorn settings; every value can be overridden from the environment."""

import os
import re

from gunicorn.glogging import Logger

bind = os.environ.get("GUNICORN_BIND", f"127.0.0.1:{os.environ.get('PORT', '8000')}")
workers = int(os.environ.get("WEB_CONCURRENCY", "2"))
worker_class = os.environ.get("GUNICORN_WORKER_CLASS", "gthread")
threads = int(os.environ.get("GUNICORN_THREADS", "4"))
timeout = int(os.environ.get("GUNICORN_TIMEOUT", "30"))
graceful_timeout = 20
keepalive = 5
# The app is imported once in the master, then forked: faster start and shared memory.
preload_app = True
# The longest request line gunicorn allows (its default is 4094). The app answers targets longer
# than MAX_URI_LENGTH (4096) itself with 414 in the one JSON error shape; only a target over this
# limit meets gunicorn's HTML 414. Header fields (cookies, bearer tokens) may be twice the default.
limit_request_line = int(os.environ.get("GUNICORN_LIMIT_REQUEST_LINE", "8190"))
limit_request_field_size = int(os.environ.get("GUNICORN_LIMIT_REQUEST_FIELD_SIZE", "16380"))
accesslog = os.environ.get("GUNICORN_ACCESS_LOG", "-")
access_log_format = '%(h)s "%(r)s" %(s)s %(b)s %(M)sms rid=%({x-request-id}o)s'
errorlog = "-"

# Query parameters whose values never reach the access log: WeChat's callback signatures (a
# captured timestamp + nonce + signature must not be readable by everyone with the logs), echoed
# strings, and anything named like a credential.
REDACTED_NAMES = ("signature", "msg_signature", "timestamp", "nonce", "echostr", "code")
REDACTED_SUFFIXES = ("token", "secret", "password", "sign", "signature", "nonce", "nonce_str",
                     "noncestr", "key")  # fmt: skip
REDACTED_PARAMS = re.compile(
    rf"(?P<name>(?:^|[?&;])(?:{'|'.join(REDACTED_NAMES)}|"
    rf"[\w.-]*(?:{'|'.join(REDACTED_SUFFIXES)})))="
    r"(?P<value>[^&;#\s]*)",
    re.IGNORECASE,
)
# Every name REDACTED_PARAMS matches holds one of these: ASCII text without any is left as it is,
# without running the pattern (8 us for a nearby search's request line, four times a request).
SECRET_WORDS = tuple(dict.fromkeys(REDACTED_NAMES + REDACTED_SUFFIXES))


def redact_query(text):
    """``text`` (a request line, URI or query string) with the values of REDACTED_PARAMS gone."""
    if text.isascii():
        low = text.lower()
        if not any(word in low for word in SECRET_WORDS):
            return text
    return REDACTED_PARAMS.sub(r"\g<name>=[REDACTED]", text)


def json_logs():
    """gunicorn's own lines as the app's: one JSON object a line unless LOG_FORMAT=text."""
    return os.environ.get("LOG_FORMAT", "json") != "text"


class RedactingLogger(Logger):
    """gunicorn's logger, with credentials removed from the request line and query string, and
    (LOG_FORMAT=json, the default) its access and error lines written as the app's JSON lines:
    the access line's fields (status, duration, request id ...) as keys of their own."""

    REDACTED_ATOMS = ("r", "q", "{raw_uri}e", "{query_string}e", "{request_uri}e", "f")

    def setup(self, cfg):
        super().setup(cfg)
        if json_logs():
            from app.logs import JsonFormatter

            for log in (self.error_log, self.access_log):
                for handler in log.handlers:
                    if getattr(handler, "_gunicorn", False):
                        handler.setFormatter(JsonFormatter())

    def atoms(self, resp, req, environ, request_time):
        atoms = super().atoms(resp, req, environ, request_time)
        for name in self.REDACTED_ATOMS:
            if isinstance(atoms.get(name), str):
                atoms[name] = redact_query(atoms[name])
        return atoms

    def access(self, resp, req, environ, request_time):
        if not json_logs():
            return super().access(resp, req, environ, request_time)
        if not self.access_log_enabled:
            return None
        atoms = self.atoms_wrapper_class(self.atoms(resp, req, environ, request_time))
        request_id = atoms["{x-request-id}o"]
        fields = {
            "request_id": request_id if request_id != "-" else "-",
            "remote": atoms["h"],
            "method": atoms["m"],
            "path": atoms["U"] + (f"?{atoms['q']}" if atoms["q"] not in ("", "-") else ""),
            "status": int(atoms["s"]) if str(atoms["s"]).isdigit() else atoms["s"],
            "bytes": int(atoms["B"]) if str(atoms["B"]).isdigit() else 0,
            "duration_ms": int(atoms["M"]),
            "user_agent": atoms["a"],
        }
        try:
            self.access_log.info(self.cfg.access_log_format, atoms, extra=fields)
        except Exception:  # noqa: BLE001 - gunicorn's own access() does the same
            self.exception("access log line failed")
        return None


logger_class = RedactingLogger


def when_ready(server):
    """In the master, before the workers fork: load the nearby-services index and every shop
    plate's public view once, so every worker starts with them in memory it shares with the
    master (copy-on-write) instead of building them while it serves."""
    import gc

    from app.extensions import db
    from services_nearby.nearest import warm as warm_nearby
    from shops.lookup import warm as warm_shops
    from wsgi import app

    for name, warm in (("nearby index", warm_nearby), ("shop views", warm_shops)):
        try:
            warm(app)
        except Exception:  # noqa: BLE001 - workers build it lazily on their first request instead
            server.log.exception("%s preload failed", name)
    with app.app_context():
        db.engine.dispose()  # no database connection crosses the fork
    gc.collect()
    gc.freeze()
