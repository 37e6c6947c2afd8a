"""A local feed server for the opinion-watch tests: a threaded http.server serving a realistic
RSS feed, an Atom feed, a JSON Feed and an HTML board page (Chinese posts about city management,
and some that are not), with ETag/Last-Modified and 304 answers, plus the failures a real site
gives (500, a slow answer, an oversized body, XML with a DTD). Every request is recorded with its
headers, so a test can assert what the fetcher sent."""

from __future__ import annotations

import hashlib
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from reports.opinion import service
from reports.opinion.models import OpinionSource, SourceKind
from reports.opinion.seed import EXCLUDE, INCLUDE

DATA = Path(__file__).parent / "data"
TYPES = {
    ".xml": "application/xml; charset=utf-8",
    ".json": "application/feed+json",
    ".html": "text/html; charset=utf-8",
}
BOARD_RULE = {
    "item": "li.post",
    "title": "a.title",
    "link": "a.title@href",
    "date": "span.time",
    "body": "p.summary",
    "author": "span.author",
}
DTD_BOMB = b"""<?xml version="1.0"?>
<!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">]>
<rss version="2.0"><channel><item><title>&lol2;</title><description>x</description></item>
</channel></rss>"""


@dataclass
class FeedServer:
    base: str
    docs: dict[str, bytes]
    requests: list[tuple[str, dict[str, str]]] = field(default_factory=list)

    def url(self, path: str) -> str:
        return self.base + path

    def seen(self, path: str) -> list[dict[str, str]]:
        """The headers of every request for ``path``, in order."""
        return [h for p, h in self.requests if p == path]


@pytest.fixture
def feeds():
    docs = {f"/{p.name}": p.read_bytes() for p in DATA.iterdir()}
    docs["/dtd.xml"] = DTD_BOMB
    docs["/big.xml"] = b"<rss>" + b" " * 300_000 + b"</rss>"
    docs["/slow"] = docs["/rss.xml"]
    server_state = FeedServer("", docs)

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args):  # quiet
            pass

        def do_GET(self):
            path = self.path.split("?")[0]
            server_state.requests.append((path, dict(self.headers.items())))
            if path == "/broken":
                self.send_error(500)
                return
            if path == "/slow":
                time.sleep(1.5)
            body = server_state.docs.get(path)
            if body is None:
                self.send_error(404)
                return
            etag = '"' + hashlib.sha256(body).hexdigest()[:16] + '"'
            if self.headers.get("If-None-Match") == etag:
                self.send_response(304)
                self.send_header("ETag", etag)
                self.end_headers()
                return
            self.send_response(200)
            self.send_header("Content-Type", TYPES.get(Path(path).suffix, "text/plain"))
            self.send_header("Content-Length", str(len(body)))
            self.send_header("ETag", etag)
            self.send_header("Last-Modified", "Tue, 01 Dec 2026 04:00:00 GMT")
            self.end_headers()
            self.wfile.write(body)

    class Server(ThreadingHTTPServer):
        def handle_error(self, request, client_address):  # a client that gave up (timeouts)
            pass

    httpd = Server(("127.0.0.1", 0), Handler)
    server_state.base = f"http://127.0.0.1:{httpd.server_address[1]}"
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield server_state
    finally:
        httpd.shutdown()
        httpd.server_close()


@pytest.fixture
def keywords(db_session):
    """The demo keyword lists."""
    service.set_keywords(INCLUDE, EXCLUDE)


@pytest.fixture
def sources(feeds, keywords, db_session):
    """The four kinds of source, on the local feed server."""
    made = {}
    for name, kind, path in (
        ("湘潭市民网络问政", "rss", "/rss.xml"),
        ("湘潭论坛·城事版", "atom", "/atom.xml"),
        ("湘潭城事投诉平台", "json", "/feed.json"),
        ("湘潭在线·民生留言板", "page", "/board.html"),
    ):
        made[kind] = service.save_source(
            None,
            {
                "name": name,
                "kind": kind,
                "url": feeds.url(path),
                "interval_minutes": 30,
                "rule": BOARD_RULE if kind == "page" else None,
            },
        )
    return made


def make_source(feeds, path: str, kind: str = "rss", **extra) -> OpinionSource:
    return service.save_source(
        None,
        {
            "name": f"测试来源{path}",
            "kind": SourceKind(kind).value,
            "url": feeds.url(path),
            "interval_minutes": 10,
        }
        | extra,
    )
