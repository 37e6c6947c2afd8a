"""Who may call what: every operation of the OpenAPI spec against every kind of caller.

The callers are anonymous, a citizen, and a city-wide staff account of each role; for the routes
that act on one department's records, also a staff account of an allowed role inside that
department and one in another department. What each of them should get comes from ONE table,
``RULES``, keyed by ``METHOD /path`` or by a path prefix (the longest match wins). An operation
that no rule covers fails ``test_every_operation_has_a_rule``: a new route without a rule fails.

Expected: anonymous -> 401; a signed-in caller without the role -> 403; a caller with the role ->
neither 401 nor 403 (a 404 or a 422 for the dummy ids and bodies is fine); nobody -> 5xx. A write
carries a field no schema knows, so a route that reads the body before it checks the caller
shows. Out of scope -> 403 (404 where the route hides what exists), and a list never shows an
out-of-scope record. Deviations found and not fixed yet are listed in ``KNOWN_DEVIATIONS``; the
matrix fails when one of them no longer happens, so the list cannot go stale.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest
from sqlalchemy import select, update

from app.auth import service as auth_service
from app.auth.models import Department, Role, StaffUser, User, WechatApp
from app.cli import seed_demo_city
from app.extensions import db
from app.geo.models import Region
from reports.littering.models import Lead, LitteringReport
from services_nearby.models import Facility
from shops.models import Shop

ANONYMOUS, CITIZEN = "anonymous", "citizen"
STAFF_ROLES = tuple(r.value for r in Role)
CALLERS = (ANONYMOUS, CITIZEN, *STAFF_ROLES)
SIGNED_IN = frozenset({CITIZEN, *STAFF_ROLES})


@dataclass(frozen=True)
class Rule:
    """Who passes an operation, how the others are refused, and its department scope."""

    allowed: frozenset[str]  # callers that must get neither 401 nor 403
    denied: int = 403  # what a signed-in caller outside ``allowed`` gets
    scope: str | None = None  # the record the path (or query) points at: see Targets
    out_of_scope: frozenset[int] = frozenset({403})  # for a record outside the caller's scope
    listed: str | None = None  # a list: the JSON key of the scoped record in ``items``

    def expected(self, caller: str) -> str:
        """'pass', or the status the caller must get."""
        if caller in self.allowed:
            return "pass"
        return "401" if caller == ANONYMOUS else str(self.denied)


def staff(*roles: Role, **kwargs: Any) -> Rule:
    """Staff holding one of ``roles`` (any staff role if none); admins hold every role."""
    allowed = {r.value for r in roles} | {Role.ADMIN.value} if roles else set(STAFF_ROLES)
    return Rule(frozenset(allowed), **kwargs)


PUBLIC = Rule(frozenset(CALLERS))
ANY_SIGNED_IN = Rule(SIGNED_IN)
CITIZENS = Rule(frozenset({CITIZEN}))
KEY_HOLDERS = Rule(frozenset(), denied=401)  # device and feed keys: no user token passes
ADMIN = staff(Role.ADMIN)
DISPATCHER, HANDLER, REVIEWER = Role.DISPATCHER, Role.HANDLER, Role.REVIEWER
FINANCE, INSPECTOR = Role.FINANCE, Role.INSPECTOR
ENFORCERS = (HANDLER, DISPATCHER, REVIEWER)  # who works on 车窗抛物 violation leads

# THE table. Keys: "METHOD /exact/path" or "/path/prefix" (whole segments); the longest wins.
RULES: dict[str, Rule] = {
    # sign-in and the shell
    "POST /api/v1/auth/staff/login": PUBLIC,
    "POST /api/v1/auth/miniprogram": PUBLIC,
    "POST /api/v1/auth/logout": ANY_SIGNED_IN,
    "GET /api/v1/auth/me": CITIZENS,
    "GET /api/v1/me/data": CITIZENS,  # 我的数据 (app/account)
    "DELETE /api/v1/me": CITIZENS,  # 账号注销: the body's confirmation is checked after the caller
    "GET /api/v1/auth/staff/me": staff(),
    "/api/v1/media": ANY_SIGNED_IN,
    "/api/v1/geo": PUBLIC,
    "/api/v1/news": PUBLIC,
    "/api/v1/staff/news": staff(DISPATCHER),
    # citizens' reports
    "/api/v1/reports": CITIZENS,
    "/api/v1/reports/classify": PUBLIC,
    "GET /api/v1/reports/nearby": PUBLIC,
    "/api/v1/categories": PUBLIC,
    "/api/v1/littering": CITIZENS,
    "/api/v1/notifications": CITIZENS,
    "/api/v1/shops": PUBLIC,
    "/api/v1/nearby": PUBLIC,
    "/api/v1/nearby/feed": KEY_HOLDERS,
    "/api/v1/ingest": KEY_HOLDERS,
    "/api/v1/hotline": KEY_HOLDERS,  # the 12345 platform's signed orders (HMAC, no token)
    # cases
    "GET /api/v1/staff/reports": staff(scope="report", listed="number"),
    "POST /api/v1/staff/reports": staff(DISPATCHER, INSPECTOR),
    "GET /api/v1/staff/reports/{number}": staff(scope="report"),
    "POST /api/v1/staff/reports/{number}/actions/{action}": staff(DISPATCHER, scope="report"),
    "GET /api/v1/staff/reports/export.csv": staff(scope="department"),
    "/api/v1/stats": staff(scope="department"),
    "GET /api/v1/staff/hotline/orders": staff(),  # scoped by the cases' department/region
    # reference data
    "/api/v1/admin": ADMIN,
    # 车窗抛物
    "/api/v1/staff/littering": staff(REVIEWER),
    "GET /api/v1/staff/littering/meta": staff(),
    "GET /api/v1/staff/littering/leads": staff(*ENFORCERS, scope="lead", listed="id"),
    "GET /api/v1/staff/littering/leads/export": staff(*ENFORCERS),
    "POST /api/v1/staff/littering/leads/{lead_id}": staff(
        *ENFORCERS, scope="lead", out_of_scope=frozenset({404})
    ),
    "GET /api/v1/staff/littering/rules": staff(REVIEWER, FINANCE),
    "POST /api/v1/staff/littering/rules": ADMIN,
    "POST /api/v1/staff/littering/bans": staff(REVIEWER),
    "/api/v1/staff/rewards": staff(FINANCE),
    "GET /api/v1/staff/rewards/monthly": staff(FINANCE, REVIEWER),
    # 牛皮癣 small ads (the advertisers' scope: where their photos were taken)
    "/api/v1/staff/smallads": staff(DISPATCHER, HANDLER),
    "POST /api/v1/staff/smallads/ocr": staff(INSPECTOR),
    "POST /api/v1/staff/smallads/captures": staff(INSPECTOR),
    "POST /api/v1/staff/smallads/advertisers/{advertiser_id}/notice": staff(DISPATCHER),
    # shops
    "/api/v1/staff/shops": staff(DISPATCHER, scope="shop"),
    "GET /api/v1/staff/shops": staff(DISPATCHER, scope="shop", listed="id"),
    "/api/v1/staff/shops/industries": staff(DISPATCHER),
    "POST /api/v1/staff/shops/industries": ADMIN,
    "PATCH /api/v1/staff/shops/industries/{industry_id}": ADMIN,
    "POST /api/v1/staff/shops": staff(DISPATCHER),
    # facilities
    "/api/v1/staff/facilities": staff(DISPATCHER, scope="facility"),
    "GET /api/v1/staff/facilities": staff(scope="facility", listed="id"),
    "GET /api/v1/staff/facilities/{facility_id}": staff(scope="facility"),
    "POST /api/v1/staff/facilities": staff(DISPATCHER),
    # 网络舆情 (observers: dispatchers; sources and keywords changed by admins)
    "/api/v1/staff/opinion": staff(DISPATCHER),
    "POST /api/v1/staff/opinion/sources": ADMIN,
    "PATCH /api/v1/staff/opinion/sources/{source_id}": ADMIN,
    "POST /api/v1/staff/opinion/sources/{source_id}/fetch": ADMIN,
    "PUT /api/v1/staff/opinion/keywords": ADMIN,
    # 项目征询 (projects and approved comments are public; answers, votes, comments and proposals
    # are citizens'; dispatchers and handlers run projects, reviewers moderate too). Scoped by
    # the project's department: tests/reports/consultations/test_staff.py.
    "/api/v1/consultations": PUBLIC,
    "/api/v1/consultations/projects/{code}/phases/{kind}/response": CITIZENS,
    "POST /api/v1/consultations/projects/{code}/phases/{kind}/comments": CITIZENS,
    "/api/v1/staff/consultations": staff(DISPATCHER, HANDLER),
    "/api/v1/staff/consultations/comments": staff(DISPATCHER, HANDLER, REVIEWER),
    # 文明行为展示 (the gallery is public; posts, likes and reports are citizens'; reviewers
    # decide, reviewers and dispatchers pick 精选)
    "/api/v1/showcase": CITIZENS,
    "GET /api/v1/showcase/posts": PUBLIC,
    "GET /api/v1/showcase/posts/{post_id}": PUBLIC,
    "GET /api/v1/showcase/featured": PUBLIC,
    "GET /api/v1/showcase/districts": PUBLIC,
    "/api/v1/staff/showcase": staff(REVIEWER, DISPATCHER),
    "POST /api/v1/staff/showcase/posts/{post_id}/approve": staff(REVIEWER),
    "POST /api/v1/staff/showcase/posts/{post_id}/refuse": staff(REVIEWER),
    "POST /api/v1/staff/showcase/posts/{post_id}/hide": staff(REVIEWER),
}


@dataclass(frozen=True)
class Deviation:
    """What the app does instead of what RULES says, for these operations and callers."""

    why: str
    ops: tuple[str, ...]
    callers: frozenset[str]
    got: int


STAFF_CALLERS = frozenset(STAFF_ROLES)

# Deviations the app still has (reported, not fixed here). Each must still happen exactly so:
# fixing one makes the matrix ask to remove it, so the list cannot go stale.
KNOWN_DEVIATIONS: tuple[Deviation, ...] = ()


def known(op: str, caller: str, status: int) -> bool:
    """True if this mismatch is a known deviation."""
    return any(op in d.ops and caller in d.callers and status == d.got for d in KNOWN_DEVIATIONS)


def rule_for(method: str, path: str) -> tuple[str, Rule] | None:
    """The most specific rule for an operation: its exact key, else the longest path prefix."""
    exact = f"{method} {path}"
    if exact in RULES:
        return exact, RULES[exact]
    prefixes = [k for k in RULES if k.startswith("/") and (path == k or path.startswith(k + "/"))]
    if not prefixes:
        return None
    key = max(prefixes, key=len)
    return key, RULES[key]


def operations(spec: dict[str, Any]) -> Iterator[tuple[str, str, dict[str, Any]]]:
    """(METHOD, path, operation) of every operation in the spec; the operation's parameters
    include its path's."""
    for path, item in spec["paths"].items():
        for method, op in item.items():
            if method in ("get", "post", "put", "patch", "delete"):
                params = item.get("parameters", []) + op.get("parameters", [])
                yield method.upper(), path, op | {"parameters": params}


@pytest.fixture
def spec(client) -> dict[str, Any]:
    resp = client.get("/api/openapi.json")
    assert resp.status_code == 200
    return resp.get_json()


def test_every_operation_has_a_rule(spec):
    missing = [f"{m} {p}" for m, p, _ in operations(spec) if rule_for(m, p) is None]
    assert not missing, "operations without a rule in RULES (add one):\n" + "\n".join(missing)


def test_every_rule_matches_an_operation(spec):
    used = {rule_for(m, p)[0] for m, p, _ in operations(spec)}
    stale = sorted(set(RULES) - used)
    assert not stale, f"rules that match no operation (remove or fix them): {stale}"


def test_the_rule_lookup():
    assert rule_for("GET", "/api/v1/staff/rewards/batches")[0] == "/api/v1/staff/rewards"
    assert rule_for("GET", "/api/v1/staff/rewards/monthly")[0].startswith("GET ")
    assert rule_for("GET", "/api/v1/reportsx") is None
    assert rule_for("GET", "/api/v1/reports/classify")[0] == "/api/v1/reports/classify"


# -------------------------------------------------------------------------------- the city


@dataclass
class Targets:
    """Records in the home district (和平区) that scoped routes point at, and the accounts."""

    home: Department  # SY-210102 和平区城管局
    away: Department  # SY-210106 铁西区城管局
    report: str  # a case in 和平区
    shop: int
    facility: int
    lead: int
    citizen: User
    accounts: dict[str, StaffUser] = field(default_factory=dict)  # caller -> city-wide account

    def path_params(self) -> dict[str, str]:
        return {"number": self.report, "shop_id": str(self.shop), "facility_id": str(self.facility),
                "lead_id": str(self.lead), "action": "void", "ext": "png"}  # fmt: skip


HEPING_POINT = {"lat": 41.7930, "lng": 123.4080, "coord_sys": "gcj02"}  # 太原街, 和平区


def _account(name: str, role: str, department: Department | None) -> StaffUser:
    code = department.code if department else None
    return auth_service.create_staff(
        name, "matrix-password-0", [role], actor_label="test", department_code=code
    )


@pytest.fixture
def city(app, client) -> Targets:
    """A small demo city, a case in 和平区, and an account per role (city-wide and per district)."""
    seed_demo_city(shops=40, facility_scale=0.005, littering=10)
    home = db.session.scalar(select(Department).where(Department.code == "SY-210102"))
    away = db.session.scalar(select(Department).where(Department.code == "SY-210106"))
    home_regions = select(Region.id).where(Region.code.like("210102%"))
    lead = db.session.scalar(select(Lead).order_by(Lead.id))
    db.session.execute(update(LitteringReport).where(LitteringReport.id == lead.report_id)
                       .values(region_id=db.session.scalar(home_regions.limit(1))))  # fmt: skip
    shop = db.session.scalar(select(Shop).where(Shop.district_code == "210102").limit(1))
    facility = db.session.scalar(
        select(Facility).where(Facility.district_code == "210102").limit(1)
    )
    user, _ = auth_service.citizen_from_wechat(
        WechatApp.MINIPROGRAM, app.config["WECHAT_MINI_APP_ID"], "o-matrix-citizen"
    )
    accounts = {role: _account(f"mx_{role}", role, None) for role in STAFF_ROLES}
    for role in STAFF_ROLES:
        accounts[f"{role}@home"] = _account(f"mx_{role}_home", role, home)
        accounts[f"{role}@away"] = _account(f"mx_{role}_away", role, away)
    db.session.flush()
    text = "太原街人行道上垃圾堆积多日无人清理"
    body = {"channel": "hotline", "description": text} | HEPING_POINT
    resp = client.post("/api/v1/staff/reports", json=body, headers=_bearer(accounts["dispatcher"]))
    assert resp.status_code == 201, resp.get_json()
    return Targets(home, away, resp.get_json()["number"], shop.id, facility.id, lead.id, user,
                   accounts)  # fmt: skip


def _bearer(owner: StaffUser | User) -> dict[str, str]:
    """A fresh token each call: logging out revokes the token it carries."""
    if isinstance(owner, StaffUser):
        raw, _ = auth_service.issue_token(staff=owner)
    else:
        raw, _ = auth_service.issue_token(user=owner)
    return {"Authorization": f"Bearer {raw}"}


# ------------------------------------------------------------------------------- requests

PLACEHOLDERS = {"integer": "2147483000", "string": "none"}
# Bodies that get past validation, so that a scoped write reaches its scope check ({} if not
# listed). Every other call of a write sends a field no schema knows: a caller who may call it
# gets 422, one who may not must be refused before the body is read.
SCOPED_BODIES: dict[str, dict[str, Any]] = {
    "POST /api/v1/staff/reports/{number}/actions/{action}": {"note": "矩阵测试作废"},
    "PATCH /api/v1/staff/shops/{shop_id}": {"business_hours": "09:00-21:00"},
    "POST /api/v1/staff/shops/{shop_id}/suspend": {"reason": "矩阵测试暂停"},
    "POST /api/v1/staff/shops/{shop_id}/resume": {"reason": "矩阵测试恢复"},
    "POST /api/v1/staff/shops/{shop_id}/close": {"reason": "矩阵测试关闭"},
    "POST /api/v1/staff/shops/{shop_id}/codes/reissue": {"reason": "矩阵测试换码"},
    "PATCH /api/v1/staff/facilities/{facility_id}": {"fee": "免费"},  # + the version read
    "POST /api/v1/staff/littering/leads/{lead_id}": {"state": "filed", "case_number": "矩阵-1"},
}
UNKNOWN_FIELD = {"matrix_unknown_field": 1}


@dataclass(frozen=True)
class Call:
    method: str
    path: str  # the template, as in the spec
    url: str
    query: dict[str, str]
    body: dict[str, Any] | None


def build_call(method: str, path: str, op: dict[str, Any], rule: Rule, t: Targets) -> Call:
    """The request for an operation (a write sends UNKNOWN_FIELD); scoped routes point at the
    和平区 records, the others at ids that do not exist."""
    params = t.path_params() if rule.scope else {"action": "void", "ext": "png"}

    def fill(match: re.Match) -> str:
        name = match.group(1)
        if name in params:
            return params[name]
        declared = next((p for p in op["parameters"] if p.get("name") == name), {})
        return PLACEHOLDERS.get(declared.get("schema", {}).get("type"), "none")

    query = {"per_page": "100"} if rule.listed else {}
    if rule.scope == "department":
        query["department_id"] = str(t.home.id)
    body = UNKNOWN_FIELD if method in ("POST", "PUT", "PATCH") else None
    return Call(method, path, re.sub(r"{(\w+)}", fill, path), query, body)


def scoped_call(call: Call, t: Targets) -> Call:
    """The same request with a body that gets past validation to the scope check."""
    key = f"{call.method} {call.path}"
    body = dict(SCOPED_BODIES.get(key, {}))
    if key == "PATCH /api/v1/staff/facilities/{facility_id}":
        body["version"] = _facility_version(t.facility)
    return Call(call.method, call.path, call.url, call.query, body if call.body else None)


def _facility_version(facility_id: int) -> int:
    return db.session.scalar(select(Facility.version).where(Facility.id == facility_id))


def send(client, call: Call, who: StaffUser | User | None):
    headers = _bearer(who) if who is not None else {}
    kwargs: dict[str, Any] = {"headers": headers, "query_string": call.query}
    if call.body is not None:
        kwargs["json"] = call.body
    resp = client.open(call.url, method=call.method, **kwargs)
    resp.get_data()  # a streamed body (the CSV export) runs now, inside its own context
    resp.close()
    return resp


def verdict(status: int, expected: str) -> bool:
    if status >= 500:
        return False
    if expected == "pass":
        return status not in (401, 403)
    return str(status) == expected


# --------------------------------------------------------------------------------- the matrix


def test_the_matrix(client, spec, city):
    """Every operation x every caller (the refused ones first: an allowed call may change the
    record), then out of and in scope; all mismatches at once."""
    wrong: dict[tuple[str, str], tuple[int, str]] = {}
    for method, path, op in operations(spec):
        _, rule = rule_for(method, path)
        call = build_call(method, path, op, rule, city)
        for caller in sorted(CALLERS, key=lambda c: rule.expected(c) == "pass"):
            who = city.citizen if caller == CITIZEN else city.accounts.get(caller)
            expected = rule.expected(caller)
            resp = send(client, call, who)
            if not verdict(resp.status_code, expected):
                wrong[(f"{method} {path}", caller)] = (resp.status_code, _describe(resp, expected))
        if rule.scope:
            wrong.update(_scope_mismatches(client, scoped_call(call, city), rule, city))
    lines = [f"{op} as {who}: {what}" for (op, who), (status, what) in sorted(wrong.items())
             if not known(op, who, status)]  # fmt: skip
    lines += [f"{op} as {who}: as RULES says now; remove it from KNOWN_DEVIATIONS"
              for op, who in _expected_deviations(spec) if (op, who) not in wrong]  # fmt: skip
    assert not lines, f"{len(lines)} authorisation mismatches:\n" + "\n".join(lines)


def _expected_deviations(spec) -> list[tuple[str, str]]:
    """(operation, caller) of every known deviation that RULES would refuse."""
    found = []
    for method, path, _ in operations(spec):
        op, rule = f"{method} {path}", rule_for(method, path)[1]
        for d in KNOWN_DEVIATIONS:
            if op in d.ops:
                found += [(op, c) for c in sorted(d.callers) if rule.expected(c) != "pass"]
    return found


def _describe(resp, expected: str) -> str:
    code = (resp.get_json(silent=True) or {}).get("error", {}).get("code", "")
    want = "not 401/403" if expected == "pass" else expected
    return f"expected {want}, got {resp.status_code} {code}".rstrip()


def _scope_mismatches(client, call: Call, rule: Rule, t: Targets) -> dict:
    """A caller of an allowed role outside the home district, then one inside it."""
    role = next(r for r in STAFF_ROLES if r in rule.allowed and r != Role.ADMIN.value)
    op, wrong = f"{call.method} {call.path}", {}
    out = send(client, call, t.accounts[f"{role}@away"])
    inside = send(client, call, t.accounts[f"{role}@home"])
    if rule.listed:
        ids = {"report": t.report, "lead": t.lead, "shop": t.shop, "facility": t.facility}
        wanted = ids[rule.scope]
        seen_out = [i[rule.listed] for i in (out.get_json() or {}).get("items", [])]
        seen_in = [i[rule.listed] for i in (inside.get_json() or {}).get("items", [])]
        if out.status_code != 200 or wanted in seen_out:
            wrong[(op, f"{role} out of scope")] = (out.status_code, "lists the record")
        if inside.status_code != 200 or wanted not in seen_in:
            wrong[(op, f"{role} in scope")] = (inside.status_code, "does not list the record")
        return wrong
    if out.status_code not in rule.out_of_scope:
        allowed = "/".join(map(str, sorted(rule.out_of_scope)))
        wrong[(op, f"{role} out of scope")] = (out.status_code, _describe(out, allowed))
    if not verdict(inside.status_code, "pass"):
        wrong[(op, f"{role} in scope")] = (inside.status_code, _describe(inside, "pass"))
    return wrong
