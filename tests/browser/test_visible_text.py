"""Nothing technical reaches people (issue 14): every page a citizen or a staff member can open,
as each role that may open it, shows Chinese: never an error code, a field key, an English enum
value, "undefined" or a library's English message.

The pages are the app's own ``url_map``: every GET route that serves a page (not an API, a file or
a machine endpoint) is read, its path parameters filled with real objects of the demo city (a case
in each workflow state, a shop code, a news article, littering reports, payout batches ...). A page
added later is read automatically when it has no parameter, or fails this test until
``PARAMETERS`` says how to fill its path (``NOT_PAGES`` names what is no page, and why). Console
pages are read as every demo role whose account may open them (the server is asked first: 200 is
a page to read, 403 the refusal page, read once). The error paths people hit are read too: an
unknown, a replaced and a suspended shop's code, a denied and an expired WeChat sign-in, 404s,
someone else's case, forms sent with missing or refused fields, bad filters in the address, a
workflow action refused because the case changed meanwhile, a wrong password.

Each page runs its scripts until its API calls (and the scripts it loads) settle; then everything
a person can read is collected: the text of the document (closed dialogs and hidden forms
included: they open), the title, placeholder, aria-label, alt, title and label attributes, option
texts, every short text a script showed meanwhile (toasts and flashes that went away again),
alert/confirm messages, and the strings of the ECharts charts (drawn on a canvas). It fails on any
ASCII word with a lower-case letter (English: enum values, error codes, library messages),
snake_case tokens, field keys followed by a colon, and None/null/undefined/NaN/[object Object]/
Invalid Date. The few ASCII words people may read are in ``ALLOWED`` with the reason; a request id
(32 hex digits, quoted to support) is no word, and identifiers staff type, shown in ``<code>`` (an
industry's code), are exempt from the English-word and snake_case rules only.
``PENDING_OTHERS`` lists, exactly, what is found in files others are changing now, so the test
passes meanwhile; an entry no longer found fails it.
"""

from __future__ import annotations

import ast
import base64
import enum
import io
import json
import re
import time
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import requests
from PIL import Image

from app.errors import DB_MESSAGES, HTTP_ERRORS
from config import HOTLINE_EMULATOR_SECRET
from reports.hotline import signing
from reports.littering.pages import VEHICLE_TYPES
from reports.littering.plates import PLATE_COLOURS
from reports.pages import DEPARTMENT_KINDS, REGION_LEVELS
from reports.seed import DEMO_POINTS
from tests.browser.conftest import ROOT, desktop_context, phone_context, staff_login
from tests.browser.test_detection import machine_case

PACKAGES = ("app", "reports", "shops", "services_nearby", "wechat")
TAIYUAN_JIE = (41.7930, 123.4080)  # WGS-84, 和平区
STAFF = ("admin", "dispatcher", "tiexi_handler", "reviewer", "finance", "inspector")

# ---------------------------------------------------------------- which routes are pages

# GET routes that are not pages people read, and why.
NOT_PAGES = {
    "static": "files",
    "favicon.ico": "an icon",
    "apple-touch-icon.png": "an icon",
    "media_files.serve_file": "a photo or video file",
    "account_pages.my_data_download": "a JSON file: the citizen's data to keep (我的数据)",
    "reports_public_pages.follow_qr_image": "a QR code image (PNG or SVG)",
    "health.healthz": "for the load balancer",
    "health.readyz": "for the load balancer",
    "metrics.scrape": "for Prometheus",
    "wechat_mp.url_check": "answers WeChat's server",
    "wechat.oauth_start": "a redirect to WeChat (its refusals are read through the callback)",
    "wechat.oauth_callback": "a redirect back (its error pages are read: denied, expired)",
    "opinion_emulator.rss": "an emulated complaint board's RSS feed (read by the fetcher)",
    "opinion_emulator.atom": "an emulated complaint board's Atom feed (read by the fetcher)",
    "opinion_emulator.json_feed": "an emulated complaint board's JSON Feed (read by the fetcher)",
    "opinion_emulator.board": "an emulated board's list page (an outside site in production)",
    "opinion_emulator.post": "an emulated board's post (an outside site in production)",
    # Open311 GeoReport v2 (reports/open311): XML and JSON for client apps, not pages
    "open311.discovery": "the Open311 discovery document (XML/JSON for client apps)",
    "open311.services": "Open311 service list (XML/JSON for client apps)",
    "open311.service_definition": "an Open311 service definition (XML/JSON for client apps)",
    "open311.service_requests": "Open311 service requests (XML/JSON for client apps)",
    "open311.request_detail": "an Open311 service request (XML/JSON for client apps)",
    "open311.token": "an Open311 token lookup (XML/JSON for client apps)",
    "open311.index": "the Open311 root: the standard's 404 error list (XML)",
    "open311.unknown": "any other path under /open311: the standard's 404 error list (XML)",
}

# Path parameters: endpoint -> the objects to fill them with, per viewer: a path value, or
# (value, expected status). A console role not named reads the first of "*".
Value = str | tuple[str, int]
PARAMETERS: dict[str, Callable[[Demo], dict[str, list[Value]]]] = {
    "reports_pages.case": lambda d: {
        # each role on the cases it works on, in the state it acts in
        "dispatcher": [
            d.cases["triage"],
            d.cases["closed"],
            d.cases["in_progress"],
            d.cases["opinion"],
            d.cases["12345"],
            d.cases["machine"],
        ],
        "tiexi_handler": [d.cases["dispatched"], d.cases["in_progress"]],
        "inspector": [d.cases["handled"]],
        "admin": [d.cases["hotline"]],
        "*": [d.cases["closed"]],
    },
    "reports_pages.report_detail": lambda d: {
        "citizen": [d.cases["triage"], d.cases["closed"], (d.cases["hotline"], 404)],
    },
    "littering_pages.review_page": lambda d: {"*": [d.littering_pending, d.littering_decided]},
    "littering_pages.batch_page": lambda d: {"*": d.batches},
    "littering_pages.report_detail": lambda d: {"citizen": [d.littering_own, ("LT-NOPE", 404)]},
    # 牛皮癣: photographed in 和平区, so out of the 铁西区 handler's scope (404, hidden)
    "smallads_pages.advertiser": lambda d: {"*": [d.smallads_id], "tiexi_handler": []},
    "shop_pages.shop": lambda d: {"*": [str(d.shop_id)]},
    "opinion_pages.item_page": lambda d: {"*": d.opinion_items},
    "shop_pages.shop_page": lambda d: {
        # active, replaced by a new plate, suspended, unknown, mistyped
        "citizen": [
            d.shop_code,
            (d.replaced_code, 410),
            (d.suspended_code, 403),
            ("ZZZZZZZZ", 404),
            ("abc", 404),
        ],  # fmt: skip
    },
    "news_pages.news_detail": lambda d: {"citizen": [str(d.news_id), ("999999", 404)]},
    # 项目征询: the demo pocket park (铁西区) and back alley (和平区); "a/b" fills two parameters
    "consultation_pages.project_page": lambda d: {"citizen": [d.park_code, ("NOSUCH00", 404)]},
    "consultation_pages.phase_page": lambda d: {
        "citizen": [
            f"{d.park_code}/needs",
            f"{d.park_code}/proposals",
            f"{d.park_code}/outcome",
            (f"{d.park_code}/nope", 404),
        ]
    },
    "consultation_pages.console_project": lambda d: {"*": [d.park_id]},
    "consultation_pages.console_edit": lambda d: {"*": [d.park_id]},
    "consultation_pages.console_phase": lambda d: {
        "*": [f"{d.park_id}/proposals"],
        "dispatcher": [f"{d.park_id}/needs", f"{d.park_id}/outcome", f"{d.alley_id}/proposals"],
    },
    "showcase_pages.post_page": lambda d: {"citizen": [d.showcase_post, ("999999", 404)]},
    "nearby_pages.kind_page": lambda d: {"citizen": [*d.kinds, ("no-such-kind", 404)]},
}

# More paths people reach: (viewer, path, expected status).
MORE_PATHS = [
    ("citizen", "/h5/no-such-page", 404),
    ("citizen", "/h5/report?shop=ZZZZZZZZ", 200),  # a plate's code that is no shop's
    ("citizen", "/nearby/toilet?lat=41.793&lng=123.408&coord_sys=wgs84", 200),  # the list
    ("citizen", "/nearby/toilet?lat=91&lng=abc&coord_sys=nonsense", 200),  # refused
    ("dispatcher", "/console/no-such-page", 404),
    ("dispatcher", "/console/cases/20000101-999999", 404),
    ("dispatcher", "/console/shops/99999999", 200),  # the shell: its API answers 404
    ("dispatcher", "/console/cases?from=2026-13-45&to=yesterday", 200),  # bad filters
    ("dispatcher", "/console/hotline?due=nonsense&page=abc", 200),  # 12345: bad filters
    ("dispatcher", "/console/stats?from=abc&group_by=nonsense", 200),
    ("finance", "/console/littering/batches/PB-NOPE", 404),
    ("finance", "/console/littering/rewards?state=nonsense&page=abc", 200),
    ("reviewer", "/console/littering/reports/LT-NOPE", 404),
    ("reviewer", "/console/littering/leads?state=nonsense", 200),
    ("admin", "/console/littering/monthly?year=abc", 200),
    ("dispatcher", "/console/smallads/999999", 404),
    ("dispatcher", "/console/smallads?state=nonsense&phone=abc&page=x", 200),
    ("dispatcher", "/console/opinion?state=nonsense&month=abc&source_id=x", 200),
    ("dispatcher", "/console/opinion/items/999999", 404),
    ("admin", "/console/opinion/counts?year=abc", 200),
    ("dispatcher", "/console/consultations?status=nonsense&kind=x&page=abc", 200),  # 项目征询
    ("reviewer", "/console/consultations/moderation?status=nonsense", 200),
    ("dispatcher", "/console/consultations/999999", 404),
    ("citizen", "/h5/showcase?sort=popular&cursor=nonsense", 200),  # 文明行为展示
    ("reviewer", "/console/showcase?tab=flagged", 200),
    ("reviewer", "/console/showcase?tab=refused&page=abc", 200),
    ("dispatcher", "/console/showcase?tab=featured", 200),
]

# ---------------------------------------------------------------- what may be read

# ASCII words people may read, and why. Anything else with a lower-case letter is English.
ALLOWED = {
    "km": "unit symbol (distances)",
    "Leaflet": "the map library's name in the map attribution (its licence asks for it)",
    "GeoJSON": "the file format admins import regions from (they must produce this format)",
    "Excel": "brand: the export opens in Excel (导出Excel)",
    "Atom": "the feed format's name (Atom 订阅), as the admins adding a source know it",
    "Open311": "the open standard's name (Open311接入, the 上报渠道 Open311), as the client "
    "developers and admins know it",
}


@dataclass(frozen=True)
class Pending:
    """A finding in a file someone else is changing now: the exact token, where it is read."""

    token: str
    context: str  # a piece of the text it is found in
    page: str  # a piece of the page's path
    file: str  # where it is written
    fix: str


PENDING_OTHERS: list[Pending] = []

# ---------------------------------------------------------------- the technical words


def _string(node: ast.AST) -> str | None:
    return node.value if isinstance(node, ast.Constant) and isinstance(node.value, str) else None


def error_codes() -> set[str]:
    """Every error code the app can send: HTTP_ERRORS, the database trouble codes, the AppError
    classes' ``code`` (alone or in ``status, code, message = ...``) and every ``code="..."``."""
    codes = {code for code, _ in HTTP_ERRORS.values()} | set(DB_MESSAGES)
    for package in PACKAGES:
        for path in (ROOT / package).rglob("*.py"):
            for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
                if isinstance(node, ast.Call):
                    codes |= {v for kw in node.keywords if kw.arg == "code"
                              if (v := _string(kw.value))}  # fmt: skip
                elif isinstance(node, ast.Assign):
                    for target in node.targets:
                        pairs = [(target, node.value)]
                        if isinstance(target, ast.Tuple) and isinstance(node.value, ast.Tuple):
                            pairs = list(zip(target.elts, node.value.elts, strict=False))
                        codes |= {v for name, value in pairs
                                  if isinstance(name, ast.Name) and name.id == "code"
                                  if (v := _string(value))}  # fmt: skip
    return {c for c in codes if re.fullmatch(r"[a-z][a-z0-9_]*", c)}


def enum_values() -> set[str]:
    """The values of the app's Enum classes (states, channels, roles, statuses ...) and of its
    other code lists (department kinds, region levels, vehicle types, plate colours, units)."""
    found: set[str] = set()
    todo = list(enum.Enum.__subclasses__())
    while todo:
        cls = todo.pop()
        todo.extend(cls.__subclasses__())
        if cls.__module__.split(".")[0] in PACKAGES:
            found |= {m.value for m in cls if isinstance(m.value, str)}
    found |= set(VEHICLE_TYPES) | set(PLATE_COLOURS) | {k for k, _ in DEPARTMENT_KINDS}
    return found | {k for k, _ in REGION_LEVELS} | {"hours", "days", "holiday", "workday"}


WORD = re.compile(r"(?<![A-Za-z0-9_])[A-Za-z][A-Za-z0-9_]*(?![A-Za-z0-9_])")
FIELD_KEY = re.compile(r"(?<![A-Za-z0-9_])[A-Za-z][A-Za-z0-9_]*\s*[:：](?!//)")
REQUEST_ID = re.compile(r"[0-9a-f]{32}")
EMPTY = ("None", "null", "undefined", "NaN", "true", "false")
SHOWN = "shown by a script"
# Rules that do not apply to an identifier shown in <code>: error codes, enum values and empty
# values are still found there.
CODE_EXEMPT = ("English word", "snake_case token")


@dataclass
class Finding:
    viewer: str
    page: str
    where: str
    kind: str
    token: str
    text: str


@dataclass
class Scanner:
    codes: set[str]
    values: set[str]
    findings: list[Finding] = field(default_factory=list)
    pending_used: set[Pending] = field(default_factory=set)

    def kind_of(self, token: str) -> str | None:
        if token in self.codes:
            return "error code"
        if token in self.values:
            return "English enum value"
        if token in EMPTY:
            return "empty value"
        if REQUEST_ID.fullmatch(token):
            return None  # a request id (uuid4 hex) on an error page, quoted to support
        if "_" in token:
            return "snake_case token"
        if re.search(r"[a-z]", token) and token not in ALLOWED:
            return "English word"
        return None

    def hits(self, text: str, in_code: bool) -> list[tuple[str, str]]:
        found = [("empty value", s) for s in ("[object Object]", "Invalid Date") if s in text]
        for m in FIELD_KEY.finditer(text):
            if not in_code and not m.group(0).isupper():
                found.append(("field key with a colon", m.group(0)))
        for m in WORD.finditer(text):
            kind = self.kind_of(m.group(0))
            if kind is not None and not (in_code and kind in CODE_EXEMPT):
                found.append((kind, m.group(0)))
        return found

    def scan(self, viewer: str, page: str, strings: Iterable[tuple[str, str]]) -> None:
        seen: set[tuple[str, str]] = set()
        on_page: set[str] = set()
        # What a script showed meanwhile counts where the settled page does not show it anyway.
        for where, text in sorted(strings, key=lambda s: s[0] == SHOWN):
            for kind, token in self.hits(text, where.startswith("code ")):
                if (token, text) in seen or (where == SHOWN and token in on_page):
                    continue
                seen.add((token, text))
                on_page.add(token)
                pending = next((p for p in PENDING_OTHERS if p.token == token
                                and p.context in text and p.page in page), None)  # fmt: skip
                if pending is not None:
                    self.pending_used.add(pending)
                else:
                    self.findings.append(Finding(viewer, page, where, kind, token, text))

    def report(self) -> str:
        """The findings, each text once with (some of) the pages and viewers it was read on."""
        grouped: dict[tuple[str, str, str], set[str]] = {}
        for f in self.findings:
            key = (f.kind, f.token, re.sub(r"\d+", "0", f.text)[:160])
            grouped.setdefault(key, set()).add(f"{f.viewer} {f.page} ({f.where})")
        lines = []
        for (kind, token, text), where in grouped.items():
            more = f" and {len(where) - 3} more" if len(where) > 3 else ""
            lines.append(f"{kind} {token!r}: {text!r}\n    on {'; '.join(sorted(where)[:3])}{more}")
        return "\n".join(lines)


# ---------------------------------------------------------------- reading a page in the browser

# Counts the page's API calls (and the scripts it adds) in flight, and keeps every short text a
# script shows (a toast or a flash that goes away again).
INIT_SCRIPT = r"""
(() => {
  window.__zhPending = 0; window.__zhLast = performance.now(); window.__zhShown = [];
  const done = () => { window.__zhPending--; window.__zhLast = performance.now(); };
  const later = () => setTimeout(done, 0);  // after the caller's handlers ran
  const origFetch = window.fetch;
  window.fetch = function () {
    window.__zhPending++;
    return origFetch.apply(this, arguments).then(
      r => r.clone().text().then(() => { later(); return r; }, () => { later(); return r; }),
      e => { later(); throw e; });
  };
  const send = XMLHttpRequest.prototype.send;
  XMLHttpRequest.prototype.send = function () {
    window.__zhPending++;
    this.addEventListener("loadend", later);
    return send.apply(this, arguments);
  };
  new MutationObserver(records => {
    for (const r of records) for (const n of r.addedNodes) if (n.tagName === "SCRIPT" && n.src) {
      window.__zhPending++;
      n.addEventListener("load", later);
      n.addEventListener("error", later);
    }
  }).observe(document, {childList: true, subtree: true});
  const HIDDEN = "code, script, style, template, noscript";
  const outside = n => !(n.parentElement && n.parentElement.closest(HIDDEN));
  const textOf = el => {  // without <code> identifiers (read by their own rules)
    let out = "";
    const w = document.createTreeWalker(el, NodeFilter.SHOW_TEXT);
    for (let t = w.nextNode(); t; t = w.nextNode()) if (outside(t)) out += t.data + " ";
    return out;
  };
  const note = t => {  // a toast or a flash is short; a longer addition is read once settled
    t = (t || "").replace(/\s+/g, " ").trim();
    if (t && t.length <= 300 && window.__zhShown.length < 5000) window.__zhShown.push(t);
  };
  const observer = new MutationObserver(records => {
    for (const r of records) {
      if (r.type === "characterData") { if (outside(r.target)) note(r.target.data); continue; }
      for (const n of r.addedNodes) {
        if (n.nodeType === 3 && outside(n)) note(n.data);
        else if (n.nodeType === 1 && !n.matches(HIDDEN) && !n.closest(HIDDEN)) note(textOf(n));
      }
    }
  });
  document.addEventListener("DOMContentLoaded", () =>
    observer.observe(document.body, {childList: true, subtree: true, characterData: true}));
})();
"""

# Waits until nothing has been in flight for a moment (at most 10 s).
SETTLE = """() => new Promise(resolve => {
  const start = performance.now();
  (function check() {
    const now = performance.now();
    if ((window.__zhPending === 0 && now - window.__zhLast > 120) || now - start > 10000) resolve();
    else setTimeout(check, 50);
  })();
})"""

# Everything a person can read on the page now: [where, text] pairs.
COLLECT = r"""() => {
  const out = [];
  const push = (where, t) => {
    t = (t || "").replace(/\s+/g, " ").trim();
    if (t) out.push([where, t]);
  };
  const name = el => el.tagName.toLowerCase() + (el.id ? "#" + el.id : "")
    + (el.classList.length ? "." + [...el.classList].join(".") : "");
  push("title", document.title);
  const walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT, {
    acceptNode: n => n.parentElement.closest("script, style, template, noscript")
      ? NodeFilter.FILTER_REJECT : NodeFilter.FILTER_ACCEPT});
  for (let n = walker.nextNode(); n; n = walker.nextNode()) {
    push((n.parentElement.closest("code") ? "code " : "") + name(n.parentElement), n.data);
  }
  const ATTRS = ["placeholder", "aria-label", "alt", "title", "label", "aria-description"];
  for (const el of document.body.querySelectorAll("*")) {
    for (const a of ATTRS) {
      if (el.hasAttribute(a)) push(name(el) + "[" + a + "]", el.getAttribute(a));
    }
    if (el.tagName === "INPUT" && /^(submit|button|reset)$/.test(el.type)) {
      push(name(el) + "[value]", el.value);
    }
  }
  for (const el of document.querySelectorAll("[_echarts_instance_]")) {
    const chart = window.echarts && window.echarts.getInstanceByDom(el);
    if (!chart) continue;
    (function walk(v, key) {
      if (typeof v === "string") {
        if (/^(name|text|data|subtext)$/.test(key)) push("chart " + name(el), v);
      }
      else if (Array.isArray(v)) v.forEach(x => walk(x, key));
      else if (v && typeof v === "object") Object.keys(v).forEach(k => walk(v[k], k));
    })(chart.getOption(), "");
  }
  (window.__zhShown || []).forEach(t => push("shown by a script", t));
  return out;
}"""


@dataclass
class Viewer:
    """One person's browser page, reused for every page they open."""

    name: str
    page: Any
    scanner: Scanner
    dialogs: list[str] = field(default_factory=list)
    visited: list[str] = field(default_factory=list)
    failures: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.page.on("dialog", self._dialog)
        self.page.on("pageerror", lambda exc: self.failures.append(
            f"{self.name} on {self.page.url}: script error {exc}"))  # fmt: skip

    def _dialog(self, dialog) -> None:
        self.dialogs.append(dialog.message)
        dialog.dismiss()

    def read(self, label: str) -> None:
        """Scan what the page shows now, once its calls settled."""
        self.page.evaluate(SETTLE)
        strings = self.page.evaluate(COLLECT) + [("alert/confirm", m) for m in self.dialogs]
        self.dialogs.clear()
        self.scanner.scan(self.name, label, strings)

    def visit(self, path: str, status: int = 200) -> None:
        response = self.page.goto(path, wait_until="domcontentloaded")
        got = response.status if response else None
        if got != status:
            self.failures.append(f"{self.name} {path}: HTTP {got}, expected {status}")
        self.visited.append(path)
        self.read(path)

    def statuses(self, base: str, paths: list[str]) -> list[int]:
        """What GETs of ``paths`` answer this viewer's account (redirects not followed), asked
        all at once with its session cookie."""
        cookie = "; ".join(f"{c['name']}={c['value']}" for c in self.page.context.cookies())

        def status(path: str) -> int:
            return requests.get(base + path, headers={"Cookie": cookie, "Accept": "text/html"},
                                allow_redirects=False, timeout=30).status_code  # fmt: skip

        with ThreadPoolExecutor(max_workers=4) as pool:
            return list(pool.map(status, paths))

    def shows_error(self, selector: str, what: str) -> None:
        """The error path was really taken: ``selector`` shows."""
        try:
            self.page.wait_for_selector(selector, timeout=5000)
        except Exception:  # noqa: BLE001 - Playwright's TimeoutError: recorded as a failure
            self.failures.append(f"{self.name}: {what}: nothing shown ({selector})")


# ---------------------------------------------------------------- the demo objects


@dataclass
class Demo:
    cases: dict[str, str] = field(default_factory=dict)
    shop_id: int = 0
    shop_code: str = ""
    replaced_code: str = ""
    suspended_code: str = ""
    news_id: int = 0
    kinds: list[str] = field(default_factory=list)
    littering_pending: str = ""
    littering_decided: str = ""
    littering_own: str = ""
    batches: list[str] = field(default_factory=list)
    smallads_id: str = ""  # a 牛皮癣 advertiser, noticed by SMS
    opinion_items: list[str] = field(default_factory=list)  # 网络舆情: pending, made a case
    park_code: str = ""  # 项目征询: the demo pocket park's plate code, its id, the alley's id
    park_id: str = ""
    alley_id: str = ""
    showcase_post: str = ""  # 文明行为展示: a shown demo post


def jpeg(colour: str) -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", (800, 600), colour).save(buf, "JPEG", quality=85)
    return buf.getvalue()


def api(page, method: str, url: str, body: Any = None) -> Any:
    """A JSON API call from the page, with its session and CSRF token (zh.api)."""
    answer = page.evaluate(
        """([m, u, b]) => zh.api(m, u, b === null ? undefined : b).then(
             data => ({data}), e => ({error: e.status + " " + e.message, fields: e.fields}))""",
        [method, url, body],
    )
    assert "error" not in answer, (method, url, answer)
    return answer["data"]


def upload(page, colour: str) -> str:
    """A photo uploaded by the page's account: its media id."""
    return page.evaluate(
        """async data => {
             const bytes = Uint8Array.from(atob(data), c => c.charCodeAt(0));
             const form = new FormData();
             form.append("file", new Blob([bytes], {type: "image/jpeg"}), "photo.jpg");
             return (await zh.api("POST", "/api/v1/media", form)).id;
           }""",
        base64.b64encode(jpeg(colour)).decode(),
    )


def act(page, number: str, action: str, **body: Any) -> dict:
    return api(page, "POST", f"/api/v1/staff/reports/{number}/actions/{action}", body)


def active_code(page, shop_id: int) -> str:
    shop = api(page, "GET", f"/api/v1/staff/shops/{shop_id}")
    return next(c["code"] for c in shop["codes"] if c["status"] == "active")


def make_demo(citizen, staff, demo: Demo) -> None:
    """Cases in every state a page shows, through the APIs as each person would; the shop codes,
    littering reports and batches of the demo city; a littering report of the citizen's own."""
    staff_login(staff, "dispatcher")
    for key, point, text in (
        ("triage", "taiyuan_jie", "太原街路口一处垃圾桶破损，垃圾散落一地"),
        ("closed", "xiaobei_yilu", "小北一路路口雨水井盖破损下陷很危险"),
    ):
        where = DEMO_POINTS[point]
        demo.cases[key] = api(citizen, "POST", "/api/v1/reports",
                              {"description": text, "lat": where.lat, "lng": where.lng,
                               "coord_sys": "gcj02", "photos": [upload(citizen, "#8a7f70")]},
                              )["number"]  # fmt: skip
    for key, point, text, category in (
        ("hotline", "taiyuan_jie", "市民来电：和平区某小区门口垃圾桶破损", None),
        ("dispatched", "xiaobei_yilu", "市民来电：小北一路井盖破损（待签收）", "BJ0103"),
        ("in_progress", "xiaobei_yilu", "市民来电：小北一路井盖破损（处置中）", "BJ0103"),
        ("handled", "xiaobei_yilu", "市民来电：小北一路井盖破损（待核查）", "BJ0103"),
    ):
        where = DEMO_POINTS[point]
        body = {"channel": "hotline", "description": text, "lat": where.lat, "lng": where.lng,
                "address": "测试地址", "category": category}  # fmt: skip
        demo.cases[key] = api(staff, "POST", "/api/v1/staff/reports", body)["number"]
    for key in ("dispatched", "in_progress", "handled", "closed"):
        view = api(staff, "GET", f"/api/v1/staff/reports/{demo.cases[key]}")
        if view["state"] in ("reported", "registered"):
            act(staff, demo.cases[key], "dispatch", category="BJ0103",
                department_id=view["suggested_department"]["id"])  # fmt: skip
    # shops other tests do not pick (they take the first active ones)
    shops = api(staff, "GET", "/api/v1/staff/shops?status=active&per_page=3&page=20")["items"]
    demo.shop_id = shops[0]["id"]
    demo.shop_code = active_code(staff, shops[0]["id"])
    demo.replaced_code = active_code(staff, shops[1]["id"])
    api(staff, "POST", f"/api/v1/staff/shops/{shops[1]['id']}/codes/reissue",
        {"reason": "铭牌损坏，重新制作"})  # fmt: skip
    demo.suspended_code = active_code(staff, shops[2]["id"])
    api(staff, "POST", f"/api/v1/staff/shops/{shops[2]['id']}/suspend",
        {"reason": "整改期间暂停营业"})  # fmt: skip
    demo.cases["12345"] = hotline_order(staff)
    staff.context.clear_cookies()
    staff_login(staff, "tiexi_handler")
    for key in ("in_progress", "handled", "closed"):
        act(staff, demo.cases[key], "accept")
    for key in ("handled", "closed"):
        act(staff, demo.cases[key], "feedback", note="已更换井盖", photos=[upload(staff, "#3a6")],
            public_reply="已更换新的井盖，路面恢复通行")  # fmt: skip
    staff.context.clear_cookies()
    staff_login(staff, "inspector")
    act(staff, demo.cases["closed"], "verify_pass")
    staff.context.clear_cookies()
    staff_login(staff, "inspector")  # 牛皮癣: a number from an ad photo, then its notice
    body = {"photo": upload(staff, "#d8d0c0"), "numbers": ["13912345678", "024-12345678"],
            "lat": TAIYUAN_JIE[0], "lng": TAIYUAN_JIE[1], "coord_sys": "wgs84"}  # fmt: skip
    api(staff, "POST", "/api/v1/staff/smallads/captures", body)
    staff.context.clear_cookies()
    staff_login(staff, "dispatcher")
    found = api(staff, "GET", "/api/v1/staff/smallads/advertisers?phone=13912345678")["items"]
    demo.smallads_id = str(found[0]["id"])
    api(staff, "POST", f"/api/v1/staff/smallads/advertisers/{demo.smallads_id}/notice", {})
    for state in ("pending", "irrelevant", "case"):  # 网络舆情 posts of the demo boards
        item = api(staff, "GET", f"/api/v1/staff/opinion/items?state={state}&per_page=1")
        demo.opinion_items.append(str(item["items"][0]["id"]))
        if state == "case":
            demo.cases["opinion"] = item["items"][0]["case_number"]
    projects = api(staff, "GET", "/api/v1/staff/consultations/projects")["items"]  # 项目征询
    park = next(p for p in projects if p["kind"] == "pocket_park")
    demo.park_code, demo.park_id = park["code"], str(park["id"])
    demo.alley_id = str(next(p["id"] for p in projects if p["kind"] == "back_alley"))
    staff.context.clear_cookies()
    staff_login(staff, "reviewer")
    listed = "/api/v1/staff/littering/reports?per_page=1&state="
    demo.littering_pending = api(staff, "GET", listed + "pending")["items"][0]["number"]
    demo.littering_decided = api(staff, "GET", listed + "valid")["items"][0]["number"]
    staff.context.clear_cookies()
    staff_login(staff, "finance")
    demo.batches = [
        b["number"] for b in api(staff, "GET", "/api/v1/staff/rewards/batches")["items"][:2]
    ]
    staff.context.clear_cookies()
    where = DEMO_POINTS["taiyuan_jie"]
    an_hour_ago = (datetime.now(UTC) - timedelta(hours=1)).isoformat(timespec="seconds")
    media = [upload(citizen, "#555"), upload(citizen, "#777")]
    body = {"plate": "辽A12345", "plate_colour": "blue", "occurred_at": an_hour_ago,
            "lat": where.lat, "lng": where.lng, "media": media}  # fmt: skip
    demo.littering_own = api(citizen, "POST", "/api/v1/littering/reports", body)["number"]


def hotline_order(page) -> str:
    """A 12345 order, signed as the platform signs it (the embedded emulator's secret), overdue:
    its case number (the case page shows its 12345工单 block)."""
    base = page.evaluate("location.origin")
    deadline = (datetime.now(UTC) - timedelta(hours=3)).isoformat(timespec="seconds")
    body = json.dumps({"order_id": "SY12345-VISIBLE-1", "category_code": "ZZ99",
                       "category_name": "其他", "content": "市民来电反映太原街人行道被占用",
                       "address": "和平区太原街", "reply_deadline": deadline},
                      ensure_ascii=False).encode()  # fmt: skip
    headers = signing.sign(HOTLINE_EMULATOR_SECRET, body, platform="sy12345")
    resp = requests.post(f"{base}/api/v1/hotline/orders", data=body, timeout=30,
                         headers=headers | {"Content-Type": "application/json"})  # fmt: skip
    assert resp.status_code in (200, 201), resp.text
    return resp.json()["case_number"]


def data_codes(staff) -> set[str]:
    """The codes the demo city's data names things by (department types, facility kinds): people
    read their Chinese names, never these."""
    staff_login(staff, "admin")
    codes = {c["department_type"] for c in api(staff, "GET", "/api/v1/admin/categories")}

    def walk(nodes: list[dict]) -> None:
        for d in nodes:
            codes.update(d["handles"])
            walk(d["children"])

    walk(api(staff, "GET", "/api/v1/admin/departments"))
    staff.context.clear_cookies()
    return codes


# ---------------------------------------------------------------- the pages, person by person


def page_routes(app) -> dict[str, str]:
    """endpoint -> rule of every GET route that may be a page."""
    out: dict[str, str] = {}
    for rule in app.url_map.iter_rules():
        if "GET" in rule.methods and not rule.rule.startswith(("/api/", "/static/", "/_")):
            out.setdefault(rule.endpoint, rule.rule)
    return {e: r for e, r in out.items() if e not in NOT_PAGES}


def paths(endpoint: str, rule: str, demo: Demo, viewer: str) -> list[tuple[str, int]]:
    """(path, expected status) of a route for a viewer: the rule itself, or its filled paths."""
    if "<" not in rule:
        return [(rule, 200)]
    values = PARAMETERS[endpoint](demo)
    chosen = values.get(viewer, values.get("*", [])[:1] if viewer != "citizen" else [])
    out = []
    for value in chosen:
        value, status = value if isinstance(value, tuple) else (value, 200)
        path = rule
        for part in value.split("/") if rule.count("<") > 1 else [value]:
            path = re.sub(r"<[^>]+>", part, path, count=1)  # "a/b": a rule of two parameters
        out.append((path, status))
    return out


def read_citizen_pages(citizen: Viewer, pages: dict[str, str], demo: Demo) -> None:
    """Every page outside the console, as a signed-in citizen, and the forms sent empty."""
    for endpoint, rule in sorted(pages.items()):
        if not rule.startswith("/console/"):
            for path, status in paths(endpoint, rule, demo, "citizen"):
                citizen.visit(path, status)
    for viewer, path, status in MORE_PATHS:
        if viewer == "citizen":
            citizen.visit(path, status)
    citizen.visit(f"/S/{demo.shop_code.lower()}")  # as a phone's camera may read the plate
    citizen.visit(f"/h5/report?shop={demo.shop_code}")
    for path in ("/h5/report", "/h5/littering/new", "/h5/showcase/new"):
        citizen.visit(path)
        citizen.page.click("#submit-btn")
        citizen.shows_error(".h5-field-error:not([hidden])", f"{path} sent empty")
        citizen.read(f"{path} (sent empty)")


def read_staff_pages(viewer: Viewer, base: str, pages: dict[str, str], demo: Demo,
                     denied: list) -> None:  # fmt: skip
    """Every console page this account may open; the first refusal (403) page of the run."""
    console = [path for endpoint, rule in sorted(pages.items())
               if rule.startswith("/console/") and endpoint != "console.login"
               for path, _ in paths(endpoint, rule, demo, viewer.name)]  # fmt: skip
    for path, status in zip(console, viewer.statuses(base, console), strict=True):
        if status == 200 or (status == 403 and not denied):
            viewer.visit(path, status)
            denied += [path] if status == 403 else []
        elif status != 403:
            viewer.failures.append(f"{viewer.name} {path}: HTTP {status}")
    for name, path, status in MORE_PATHS:
        if name == viewer.name:
            viewer.visit(path, status)


def admin_forms(viewer: Viewer) -> None:
    """Editor forms sent with values the server refuses, and the dialogs opened."""
    page = viewer.page
    viewer.visit("/console/admin/departments")
    page.click("#department-new")
    page.fill("#department-code", "SY")  # the city bureau's
    page.select_option("#department-kind", index=1)
    page.fill("#department-name", "重复编码的部门")
    page.check("#department-handles-picks input >> nth=0")
    page.click("#department-save")
    viewer.shows_error("#flash.error:not([hidden]), .field-error:not([hidden])", "a taken code")
    viewer.read("/console/admin/departments (a taken code)")
    page.keyboard.press("Escape")
    viewer.visit("/console/admin/categories")
    page.click("#category-tree button[data-op=edit] >> nth=0")
    viewer.read("/console/admin/categories (editing)")
    page.keyboard.press("Escape")
    viewer.visit("/console/news")
    page.click("#news-new")
    page.click("#news-save")
    viewer.shows_error("#flash.error:not([hidden])", "an article without a title")
    viewer.read("/console/news (sent empty)")


def dispatcher_forms(viewer: Viewer) -> None:
    """A facility whose opening hours the server cannot read."""
    page = viewer.page
    viewer.visit("/console/facilities")
    page.click("#facility-new")
    page.select_option("#facility-edit-kind", index=1)
    page.fill("#facility-edit-name", "测试公厕")
    page.fill("#facility-edit-lat", "41.796")
    page.fill("#facility-edit-lng", "123.429")
    page.fill("#facility-edit-opening_hours", "看心情开门")
    page.click("#facility-save")
    viewer.shows_error(".field-error:not([hidden])", "opening hours that cannot be read")
    viewer.read("/console/facilities (unreadable hours)")


def refused_action(viewer: Viewer, demo: Demo) -> None:
    """A workflow action refused: the case was signed for since the page opened."""
    page = viewer.page
    number = demo.cases["dispatched"]
    viewer.visit(f"/console/cases/{number}")
    api(page, "POST", f"/api/v1/staff/reports/{number}/actions/accept", {})
    page.click("#action-accept")
    page.click("#submit-accept")
    viewer.shows_error("#flash.error:not([hidden])", "an action on a case that changed")
    viewer.read(f"/console/cases/{number} (accept refused)")


# ---------------------------------------------------------------- the test


def test_people_read_no_technical_text(app, browser, live_server):
    started = time.monotonic()
    pages = page_routes(app)
    unlisted = [f"{e} {r}" for e, r in sorted(pages.items()) if "<" in r and e not in PARAMETERS]
    assert not unlisted, f"say in PARAMETERS how to fill these pages' paths: {unlisted}"
    scanner = Scanner(error_codes(), enum_values())
    viewers: list[Viewer] = []
    demo = Demo()

    def viewer(name: str, context) -> Viewer:
        context.add_init_script(INIT_SCRIPT)
        viewers.append(Viewer(name, context.new_page(), scanner))
        return viewers[-1]

    # A citizen: signed out, denied at WeChat's sign-in, back with an expired one, signed in.
    phone = phone_context(browser, live_server, lat=TAIYUAN_JIE[0], lng=TAIYUAN_JIE[1])
    citizen = viewer("citizen", phone)
    citizen.visit("/h5/")
    citizen.page.goto("/h5/reports")
    citizen.page.click("#deny")
    citizen.page.wait_for_url("**/auth/wechat/callback**")
    citizen.read("/auth/wechat/callback (denied)")
    citizen.visit("/auth/wechat/callback?state=expired&code=whatever", 400)
    citizen.page.goto("/h5/reports")
    citizen.page.fill("#openid", "o-visible-text")  # a citizen of its own (the server is shared)
    citizen.page.get_by_role("button", name="切换").click()
    citizen.page.click("#confirm")
    citizen.page.wait_for_url("**/h5/reports")

    desk = desktop_context(browser, live_server)
    setup = desk.new_page()
    make_demo(citizen.page, setup, demo)
    demo.cases["machine"] = machine_case(live_server)  # 路长慧眼: the algorithm on the case page
    scanner.values |= data_codes(setup)
    desk.close()
    citizen.page.goto("/nearby")
    demo.kinds = sorted(set(citizen.page.eval_on_selector_all(
        "a[href*='/nearby/']", "a => a.map(x => x.pathname.split('/')[2])")))  # fmt: skip
    scanner.values |= set(demo.kinds)
    citizen.page.goto("/h5/news")
    demo.news_id = int(citizen.page.eval_on_selector(
        "a[href*='/h5/news/']", "a => a.pathname.split('/')[3]"))  # fmt: skip
    citizen.page.goto("/h5/showcase")
    demo.showcase_post = citizen.page.eval_on_selector(
        "a[href*='/h5/showcase/']:not([href$='/new']):not([href$='/mine'])",
        "a => a.pathname.split('/')[3]")  # fmt: skip
    read_citizen_pages(citizen, pages, demo)
    phone.close()

    # Staff: the sign-in refused, then every role on its pages.
    signed_out = desktop_context(browser, live_server)
    login = viewer("signed out", signed_out)
    login.visit("/console/login")
    login.page.fill("#username", "dispatcher")
    login.page.fill("#password", "not-the-password")
    login.page.get_by_role("button", name="登录").click()
    login.shows_error(".error", "a wrong password")
    login.read("/console/login (wrong password)")
    signed_out.close()
    denied: list[str] = []
    for name in STAFF:
        context = desktop_context(browser, live_server)
        staff = viewer(name, context)
        staff_login(staff.page, name)
        staff.read(f"/console/ ({name} signed in)")
        read_staff_pages(staff, live_server.base, pages, demo, denied)
        if name == "admin":
            admin_forms(staff)
        elif name == "dispatcher":
            dispatcher_forms(staff)
        elif name == "tiexi_handler":
            refused_action(staff, demo)
        context.close()

    visited = {p.split("?")[0] for v in viewers for p in v.visited}
    patterns = {e: re.compile(re.sub("<[^>]+>", "[^/]+", r)) for e, r in pages.items()}
    never = [e for e, pattern in sorted(patterns.items())
             if not any(pattern.fullmatch(p) for p in visited)]  # fmt: skip
    print(f"\n{sum(len(v.visited) for v in viewers)} pages read in "
          f"{time.monotonic() - started:.0f} s")  # fmt: skip
    assert denied, "no refusal page was read"
    assert not never, f"pages never read: {never}"
    assert not [f for v in viewers for f in v.failures], "\n".join(
        f for v in viewers for f in v.failures
    )
    assert not scanner.findings, (
        f"{len(scanner.findings)} technical texts people read:\n{scanner.report()}"
    )
    unused = [p for p in PENDING_OTHERS if p not in scanner.pending_used]
    assert not unused, f"PENDING_OTHERS no longer found (remove them): {unused}"
