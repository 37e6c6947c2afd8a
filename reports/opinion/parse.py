"""Posts out of a fetched document: RSS 2.0, Atom 1.0, JSON Feed 1.x, or an HTML page read with
a simple extraction rule. Pure functions over bytes; nothing here touches the network or the
database.

XML goes through defusedxml with DTDs forbidden (no entity expansion, no external entities). A
page rule is a dict of simple selectors, each one of ``tag``, ``.class``, ``tag.class`` or
``#id`` (``"a@href"`` reads an attribute instead of the text)::

    {"item": "li.post", "title": "a.title", "link": "a.title@href",
     "date": "span.time", "body": "p.summary", "author": "span.author"}
"""

from __future__ import annotations

import html
import json
import re
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from html.parser import HTMLParser
from urllib.parse import urljoin
from zoneinfo import ZoneInfo

from defusedxml import ElementTree as SafeET
from defusedxml.common import DefusedXmlException

LOCAL_TZ = ZoneInfo("Asia/Shanghai")
ATOM = "{http://www.w3.org/2005/Atom}"
TITLE_MAX, BODY_MAX, LINK_MAX, AUTHOR_MAX = 300, 5000, 500, 64


class ParseError(ValueError):
    """The document is not what the source's kind says (the message is for staff, in Chinese)."""


@dataclass
class Post:
    """One post as found on a source."""

    guid: str
    title: str
    body: str
    link: str | None = None
    author: str | None = None
    published_at: datetime | None = None  # UTC


def parse(kind: str, content: bytes, base_url: str, rule: dict | None = None) -> list[Post]:
    """The posts of a document of this source kind (rss, atom, json, page)."""
    if kind == "rss":
        return parse_rss(content, base_url)
    if kind == "atom":
        return parse_atom(content, base_url)
    if kind == "json":
        return parse_json(content, base_url)
    if kind == "page":
        return parse_page(content, base_url, rule or {})
    raise ParseError(f"不支持的来源类型：{kind}")


# ---------------------------------------------------------------- text helpers


class _TextOnly(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []

    def handle_data(self, data: str) -> None:
        self.parts.append(data)

    def handle_starttag(self, tag: str, attrs) -> None:
        if tag in ("br", "p", "div", "li"):
            self.parts.append(" ")


def plain(text: str | None) -> str:
    """HTML (or plain text) as one line of plain text."""
    if not text:
        return ""
    if "<" in text:
        stripper = _TextOnly()
        stripper.feed(text)
        stripper.close()
        text = "".join(stripper.parts)
    else:
        text = html.unescape(text)
    return re.sub(r"\s+", " ", text).strip()


def _clip(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _link(value: str | None, base_url: str) -> str | None:
    if not value or not value.strip():
        return None
    url = urljoin(base_url, value.strip())
    return url[:LINK_MAX] if url.startswith(("http://", "https://")) else None


def _post(
    guid: str | None,
    title: str,
    body: str,
    link: str | None,
    author: str | None,
    published: datetime | None,
) -> Post | None:
    title, body = _clip(plain(title), TITLE_MAX), _clip(plain(body), BODY_MAX)
    if not title and not body:
        return None
    guid = (guid or link or "").strip() or f"{title}|{body[:200]}"
    return Post(
        guid=guid[:500],
        title=title or _clip(body, 60),
        body=body or title,
        link=link,
        author=_clip(plain(author), AUTHOR_MAX) or None,
        published_at=published,
    )


def parse_date(value: str | None) -> datetime | None:
    """RFC 822 (RSS), ISO 8601 (Atom, JSON Feed) or a board's local 2026-11-21 14:05 /
    2026年11月21日 as UTC; None when it cannot be read."""
    if not value or not value.strip():
        return None
    value = value.strip()
    try:
        at = parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        at = None
    if at is None:
        try:
            at = datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            at = None
    if at is None:
        found = re.search(
            r"(\d{4})[-/年.](\d{1,2})[-/月.](\d{1,2})日?(?:\s*(\d{1,2})[:：](\d{2}))?", value
        )
        if not found:
            return None
        y, mo, d, h, mi = (int(x) if x else 0 for x in found.groups())
        try:
            at = datetime(y, mo, d, h, mi)
        except ValueError:
            return None
    if at.tzinfo is None:
        at = at.replace(tzinfo=LOCAL_TZ)
    return at.astimezone(UTC)


# ---------------------------------------------------------------- feeds


def _xml(content: bytes):
    try:
        return SafeET.fromstring(content, forbid_dtd=True)
    except DefusedXmlException:
        raise ParseError("订阅内容含有不允许的文档类型声明（DTD），已拒绝") from None
    except SafeET.ParseError as exc:
        raise ParseError(f"订阅内容不是有效的 XML（{exc.position[0]} 行）") from None


def parse_rss(content: bytes, base_url: str) -> list[Post]:
    root = _xml(content)
    if root.tag != "rss" and root.find("channel") is None:
        raise ParseError("订阅内容不是 RSS")
    posts = []
    for item in root.iter("item"):
        link = _link(item.findtext("link"), base_url)
        post = _post(
            item.findtext("guid"),
            item.findtext("title") or "",
            item.findtext("description") or "",
            link,
            item.findtext("author") or item.findtext("{http://purl.org/dc/elements/1.1/}creator"),
            parse_date(item.findtext("pubDate")),
        )
        if post:
            posts.append(post)
    return posts


def parse_atom(content: bytes, base_url: str) -> list[Post]:
    root = _xml(content)
    if root.tag != f"{ATOM}feed":
        raise ParseError("订阅内容不是 Atom")
    posts = []
    for entry in root.iter(f"{ATOM}entry"):
        links = entry.findall(f"{ATOM}link")
        href = next(
            (x.get("href") for x in links if x.get("rel", "alternate") == "alternate"),
            links[0].get("href") if links else None,
        )
        body = entry.findtext(f"{ATOM}content") or entry.findtext(f"{ATOM}summary") or ""
        author = entry.find(f"{ATOM}author")
        post = _post(
            entry.findtext(f"{ATOM}id"),
            entry.findtext(f"{ATOM}title") or "",
            body,
            _link(href, base_url),
            author.findtext(f"{ATOM}name") if author is not None else None,
            parse_date(entry.findtext(f"{ATOM}published") or entry.findtext(f"{ATOM}updated")),
        )
        if post:
            posts.append(post)
    return posts


def parse_json(content: bytes, base_url: str) -> list[Post]:
    try:
        feed = json.loads(content)
    except (ValueError, UnicodeDecodeError):
        raise ParseError("订阅内容不是有效的 JSON") from None
    items = feed.get("items") if isinstance(feed, dict) else None
    if not isinstance(items, list):
        raise ParseError("订阅内容不是 JSON Feed（缺少 items）")
    posts = []
    for item in items:
        if not isinstance(item, dict):
            continue
        author = item.get("author") or next(iter(item.get("authors") or []), None)
        post = _post(
            str(item.get("id") or "") or None,
            str(item.get("title") or ""),
            str(item.get("content_text") or item.get("content_html") or item.get("summary") or ""),
            _link(item.get("url"), base_url),
            author.get("name") if isinstance(author, dict) else None,
            parse_date(item.get("date_published") or item.get("date_modified")),
        )
        if post:
            posts.append(post)
    return posts


# ---------------------------------------------------------------- pages

VOID = frozenset(
    {
        "area",
        "base",
        "br",
        "col",
        "embed",
        "hr",
        "img",
        "input",
        "link",
        "meta",
        "source",
        "track",
        "wbr",
    }
)


class Node:
    """An element of the page: tag, attributes, children (nodes and strings)."""

    def __init__(self, tag: str, attrs: dict[str, str], parent: Node | None) -> None:
        self.tag, self.attrs, self.parent = tag, attrs, parent
        self.children: list[Node | str] = []

    def text(self) -> str:
        return "".join(c if isinstance(c, str) else c.text() for c in self.children)

    def walk(self):
        for child in self.children:
            if isinstance(child, Node):
                yield child
                yield from child.walk()


class _Tree(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.root = self.node = Node("#root", {}, None)

    def handle_starttag(self, tag, attrs):
        node = Node(tag, {k: v or "" for k, v in attrs}, self.node)
        self.node.children.append(node)
        if tag not in VOID:
            self.node = node

    def handle_endtag(self, tag):
        node = self.node
        while node is not None and node.tag != tag:
            node = node.parent
        if node is not None and node.parent is not None:
            self.node = node.parent

    def handle_data(self, data):
        if self.node.tag not in ("script", "style"):
            self.node.children.append(data)


SELECTOR = re.compile(r"^(?P<tag>[a-zA-Z][a-zA-Z0-9]*)?(?:\.(?P<cls>[\w-]+)|#(?P<id>[\w-]+))?$")


def matcher(selector: str):
    found = SELECTOR.match(selector.strip())
    if not found or not any(found.groups()):
        raise ParseError(f"提取规则中的选择器无法识别：{selector}")
    tag, cls, ident = found.group("tag"), found.group("cls"), found.group("id")

    def match(node: Node) -> bool:
        return (
            (tag is None or node.tag == tag.lower())
            and (cls is None or cls in node.attrs.get("class", "").split())
            and (ident is None or node.attrs.get("id") == ident)
        )

    return match


def _select(node: Node, spec: str | None) -> str | None:
    """The text (or ``@attr``) of the first element under ``node`` matching ``spec``."""
    if not spec:
        return None
    selector, _, attr = spec.partition("@")
    match = matcher(selector) if selector else (lambda n: True)
    candidates = [node] if not selector else []
    found = next((n for n in (*candidates, *node.walk()) if match(n)), None)
    if found is None:
        return None
    return found.attrs.get(attr) if attr else found.text()


def parse_page(content: bytes, base_url: str, rule: dict) -> list[Post]:
    if not rule.get("item") or not rule.get("title"):
        raise ParseError("网页来源需要提取规则（条目与标题选择器）")
    tree = _Tree()
    tree.feed(content.decode("utf-8", errors="replace"))
    tree.close()
    is_item = matcher(rule["item"])
    posts = []
    for node in tree.root.walk():
        if not is_item(node):
            continue
        link = _link(_select(node, rule.get("link")), base_url)
        post = _post(
            link,
            _select(node, rule["title"]) or "",
            _select(node, rule.get("body")) or "",
            link,
            _select(node, rule.get("author")),
            parse_date(_select(node, rule.get("date"))),
        )
        if post:
            posts.append(post)
    return posts
