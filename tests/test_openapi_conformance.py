"""The OpenAPI spec against the app: Schemathesis generates requests for every operation from
``/api/openapi.json`` and checks each answer (no 5xx, status, content type, headers and body as
documented, and every schema-valid request accepted), as a city-wide admin and as a citizen.

It runs in process (the WSGI app) on its own committed database seeded with a small demo city,
with a fixed seed and a bounded number of examples, so it is repeatable and fits in CI.
Every exception to the checks is in ONE list, ``ALLOWED``, each with why it is allowed.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
import schemathesis
from flask import Flask
from flask_migrate import upgrade
from schemathesis import checks as core_checks
from schemathesis.specs.openapi import checks as openapi_checks
from sqlalchemy import create_engine, select, text
from sqlalchemy.engine import make_url

from app import create_app
from app.auth import service as auth_service
from app.auth.models import Role, StaffUser, User, WechatApp
from app.cli import seed_demo_city
from app.extensions import db
from tests.conftest import REAL_SESSION, FreshContextClient

SEED = 20261202
# Examples per operation (the explicit examples of the spec come on top): the whole file stays
# under ~90 s on 2 cores. A citizen is refused most operations, so fewer suffice there.
ADMIN_EXAMPLES, CITIZEN_EXAMPLES = 25, 8


@dataclass(frozen=True)
class Allowed:
    """What an operation may do against the checks, and why."""

    why: str
    # A schema-valid request may be refused (4xx other than 401/403/404/409/429) on these
    # fields, or with these error codes when the error names no field.
    refusals: frozenset[str] = frozenset()
    checks: frozenset[str] = frozenset()  # built-in checks not run on this operation


def allow(why: str, *refusals: str, checks: tuple[str, ...] = ()) -> Allowed:
    return Allowed(why, frozenset(refusals), frozenset(checks))


LOOKUP = "names a record that must exist (a code, an id, an upload of the caller): a lookup"
PENDING = "others' file, fix described in the report; remove this entry with it:"

ANY = "*"  # any field: the documented body says nothing about it yet
# A sent photo must be a picture the server can decode: content, not a schema.
PICTURE = ("unsupported_image_type", "image_corrupt", "image_too_many_pixels")
REUSED = ("an Idempotency-Key already used with other content is refused: the state of an earlier "
          "request, not a rule on this one")  # fmt: skip
ANSWERS = (
    "answers must fit the follow-up questions of the category named (Category.questions, "
    "a lookup), and in a form they are JSON text, which JSON Schema does not parse"
)
QUESTIONS = (
    "a question list is checked by reports.questions.check_questions (an urgent answer "
    "must be one of the question's options, keys unique): rules across items"
)
IN_CITY = ("a citizen's or a hotline call's point must lie in the city (app.geo.regions: the "
           "regions table's polygons, a lookup)")  # fmt: skip

# THE list of exceptions, by "METHOD /path". Each names what is allowed and why.
ALLOWED: dict[str, Allowed] = {
    "POST /api/v1/media": allow(
        "the file must be a picture or a video the server can decode: content, not a schema",
        "file", "unsupported_image_type", "unsupported_video_type", "image_corrupt",
        "image_too_many_pixels"),
    "PATCH /api/v1/admin/departments/{department_id}": allow(
        "a department's parent may not be itself or one of its own sub-departments: the tree "
        "as it stands (a lookup), not a rule on this request", "parent_id"),
    "POST /api/v1/staff/news": allow(LOOKUP, "cover"),
    "PATCH /api/v1/staff/news/{article_id}": allow(LOOKUP, "cover"),
    "POST /api/v1/reports": allow(
        "photos are uploads of this citizen (a lookup) or pictures sent along (content the "
        "server must decode), and whether one is needed depends on the category, a row "
        f"(Category.photo_required); category and shop_id are lookups; {REUSED}; {IN_CITY}; "
        f"{ANSWERS}",
        "photos", "category", "shop_id", "Idempotency-Key", "lat", "answers", *PICTURE),
    "POST /api/v1/staff/reports": allow(
        f"{LOOKUP} (photos, category, shop_id); pictures sent along are content to decode; "
        f"{REUSED}; {IN_CITY}; {ANSWERS}", "photos", "category", "shop_id", "Idempotency-Key",
        "lat", "answers", *PICTURE),
    "GET /api/v1/stats/cases": allow(
        f"`from` after `to` compares two parameters (not expressible in JSON Schema); {LOOKUP} "
        "(department_id, category)", "from", "to", "department_id", "category"),
    "GET /api/v1/stats/heatmap": allow(
        "`from` after `to`, and a bbox whose minimum is not below its maximum: comparisons "
        f"JSON Schema cannot state; {LOOKUP} (department_id, category)",
        "from", "to", "bbox", "department_id", "category"),
    "GET /api/v1/stats/detections": allow(
        f"`from` after `to` compares two parameters; {LOOKUP} (department_id)",
        "from", "to", "department_id"),
    "POST /api/v1/admin/detection-algorithms": allow(
        LOOKUP + " (category: an active category code)", "category"),
    "PATCH /api/v1/admin/detection-algorithms/{code}": allow(
        LOOKUP + " (category: an active category code)", "category"),
    "POST /api/v1/admin/categories": allow(
        LOOKUP + f" (a department must handle the type); {QUESTIONS}",
        "department_type", "code", "questions"),
    "PATCH /api/v1/admin/categories/{category_id}": allow(
        LOOKUP + f" (a department must handle the type); {QUESTIONS}", "department_type",
        "questions"),
    "POST /api/v1/admin/regions/import": allow(
        "the file must be a GeoJSON FeatureCollection with the named properties: content",
        "file", "parent_code", "code_prop", "name_prop", "parent_prop", "department_prop"),
    "PUT /api/v1/admin/calendar/{day}": allow(
        "a make-up working day (kind=workday) must fall on a Saturday or Sunday: a rule on the "
        "weekday of a date, which JSON Schema cannot state", "kind"),
    "POST /api/v1/littering/reports": allow(
        "a plate follows the Chinese plate grammar (reports.littering.plates: province, letters, "
        "new-energy lengths); occurred_at must lie within the rule's deadline before now (a "
        f"time relative to the request); {LOOKUP} (media)", "plate", "occurred_at", "media"),
    "POST /api/v1/littering/plate-suggestions": allow(LOOKUP, "media"),
    "POST /api/v1/staff/smallads/ocr": allow(LOOKUP + " (photo: an upload of this account)",
                                             "photo"),
    "POST /api/v1/staff/smallads/captures": allow(
        "a number must read as a mainland mobile or a landline with its area code "
        "(reports.smallads.phones: look-alike letters and separators allowed, lengths by area "
        f"code); {LOOKUP} (photo: an upload of this account); the Idempotency-Key must be "
        "printable ASCII", "numbers", "photo", "Idempotency-Key"),
    "POST /api/v1/staff/littering/rules": allow(LOOKUP, "region_codes"),
    "POST /api/v1/staff/shops": allow(
        "the 统一社会信用代码 check character (GB 32100) cannot be stated in JSON Schema; "
        f"{LOOKUP} (industry)", "credit_code", "industry"),
    "PATCH /api/v1/staff/shops/{shop_id}": allow(LOOKUP, "industry"),
    "GET /api/v1/shops/heatmap": allow(
        f"a bbox's minimum below its maximum is a comparison JSON Schema cannot state; {LOOKUP} "
        "(industry codes)", "bbox", "industry"),
    "POST /api/v1/staff/facilities": allow(
        "opening hours follow the OSM opening_hours grammar (services_nearby.hours); free spaces "
        f"may not exceed the capacity (a comparison); {LOOKUP} (kind, feed)",
        "opening_hours", "free_spaces", "kind", "feed"),
    "PUT /api/v1/admin/wechat/menu": allow(
        "WeChat counts names, keys and URLs in UTF-8 bytes (a Chinese character is 3; a menu's "
        "name 16, a sub-button's 60), each action type needs its own fields, and a path of ours "
        "is measured once made absolute: rules JSON Schema cannot state", "button"),
    "POST /api/v1/showcase/posts": allow(
        f"{LOOKUP} (photos: uploads of this citizen that no other post uses; district: an "
        f"active district's code); {REUSED}; the Idempotency-Key must be printable ASCII",
        "photos", "district", "Idempotency-Key"),
    "PATCH /api/v1/staff/facilities/{facility_id}": allow(
        "as POST /api/v1/staff/facilities (the capacity compared may be the stored one)",
        "opening_hours", "free_spaces", "kind", "feed"),
    "POST /api/v1/staff/consultations/projects": allow(
        f"{IN_CITY}; a point given with an area must lie in it, and the area must be a polygon "
        f"with an area (geometry, not a schema); {LOOKUP} (department_id: an active department "
        "in the caller's scope; photos: images uploaded by staff)",
        "lat", "area", "department_id", "photos"),
    "PATCH /api/v1/staff/consultations/projects/{project_id}": allow(
        "as POST /api/v1/staff/consultations/projects (the point or area compared may be the "
        "stored one)", "lat", "area", "department_id", "photos"),
    "PUT /api/v1/staff/consultations/projects/{project_id}/phases/{kind}": allow(
        "closes_at after opens_at compares two fields; a question list is checked across its "
        "items (choices need 2 distinct options, at most as many max_choices; other kinds none)",
        "closes_at", "questions"),
    "PUT /api/v1/consultations/projects/{code}/phases/{kind}/response": allow(
        "answers must fit the phase's questions (keys, option indexes, required ones): a lookup",
        "answers"),
}  # fmt: skip


# --------------------------------------------------------------------------------- the spec


def _spec() -> dict[str, Any]:
    """The spec as the app serves it (an app on an empty in-memory database builds it)."""
    spec_app = create_app("testing", {"SQLALCHEMY_DATABASE_URI": "sqlite://"})
    with spec_app.test_client() as client:
        return client.get("/api/openapi.json").get_json()


def _config(examples: int) -> schemathesis.Config:
    return schemathesis.Config.from_dict({
        "seed": SEED,
        "generation": {"max-examples": examples, "deterministic": True, "database": "none",
                       "mode": "all"},  # schema-valid and schema-violating requests
        "phases": {"coverage": {"enabled": False}, "stateful": {"enabled": False}},
        "suppress-health-check": ["all"],
    })  # fmt: skip


SPEC = _spec()
as_admin = schemathesis.openapi.from_dict(SPEC, config=_config(ADMIN_EXAMPLES))
as_citizen = schemathesis.openapi.from_dict(SPEC, config=_config(CITIZEN_EXAMPLES))


# --------------------------------------------------------------------------------- the city


@dataclass
class City:
    app: Flask
    callers: dict[str, StaffUser | User]
    tokens: dict[str, str]

    def token(self, caller: str, fresh: bool = False, throwaway: bool = False) -> str:
        """The caller's bearer token; a fresh one for a call that revokes it (logout), and a new
        citizen's for a call that deletes the account (DELETE /api/v1/me)."""
        if throwaway and caller == "citizen":
            with self.app.app_context():
                user, _ = auth_service.citizen_from_wechat(
                    WechatApp.MINIPROGRAM, self.app.config["WECHAT_MINI_APP_ID"],
                    f"o-leaving-{uuid.uuid4().hex[:12]}")  # fmt: skip
                raw, _ = auth_service.issue_token(user=user)
                db.session.commit()
                return raw
        if not fresh:
            return self.tokens[caller]
        with self.app.app_context():
            owner = db.session.merge(self.callers[caller])
            raw, _ = auth_service.issue_token(**{"staff" if caller != "citizen" else "user": owner})
            db.session.commit()
            return raw


@pytest.fixture(scope="module")
def city(tmp_path_factory) -> Iterator[City]:
    """An app on its own committed database (a fresh MariaDB database under TEST_DATABASE_URL,
    else an SQLite file) with a small demo city, cases, an admin and a citizen."""
    tmp = tmp_path_factory.mktemp("conformance")
    with _database(tmp) as url:
        app = create_app("testing", {
            "SQLALCHEMY_DATABASE_URI": url, "UPLOAD_DIR": str(tmp / "uploads"),
            "CHANGES_FILE": str(tmp / "changes.bin"), "RATELIMIT_ENABLED": False,
            "LITTERING_OCR_ENABLED": False, "WECHATPAY_EMULATOR_DB": str(tmp / "pay.db"),
        })  # fmt: skip
        app.test_client_class = FreshContextClient
        with app.app_context():
            upgrade()
            seed_demo_city(shops=40, facility_scale=0.005, littering=10)
            admin = db.session.scalar(select(StaffUser).where(StaffUser.username == "admin"))
            citizen, _ = auth_service.citizen_from_wechat(
                WechatApp.MINIPROGRAM, app.config["WECHAT_MINI_APP_ID"], "o-conformance"
            )
            callers = {"admin": admin, "citizen": citizen}
            tokens = {"admin": auth_service.issue_token(staff=admin)[0],
                      "citizen": auth_service.issue_token(user=citizen)[0]}  # fmt: skip
            db.session.commit()
            _cases(app, tokens["admin"])
            db.session.remove()
        try:
            yield City(app, callers, tokens)
        finally:
            with app.app_context():
                db.session.remove()
                db.engine.dispose()


def _cases(app: Flask, token: str) -> None:
    """A few hotline cases, so that lists, details and exports have rows."""
    client = app.test_client()
    for text_, lat, lng in (("太原街人行道上垃圾堆积多日无人清理", 41.7930, 123.4080),
                            ("小北一路雨水井盖破损存在安全隐患", 41.8120, 123.3550)):  # fmt: skip
        body = {"channel": "hotline", "description": text_, "lat": lat, "lng": lng}
        resp = client.post("/api/v1/staff/reports", json=body,
                           headers={"Authorization": f"Bearer {token}"})  # fmt: skip
        assert resp.status_code == 201, resp.get_json()


class _database:
    """A fresh database URL, dropped afterwards on MariaDB."""

    def __init__(self, tmp) -> None:
        self.tmp, self.engine, self.name = tmp, None, None

    def __enter__(self) -> str:
        raw = os.environ.get("TEST_DATABASE_URL", "").strip()
        if not raw.startswith("mysql"):
            return f"sqlite:///{self.tmp / 'conformance.db'}"
        url = make_url(raw)
        self.name = f"zhcg_conf_{uuid.uuid4().hex[:10]}"
        server = url.set(database=None, query=dict(url.query) | {"charset": "utf8mb4"})
        self.engine = create_engine(server)
        with self.engine.begin() as conn:
            conn.execute(text(f"CREATE DATABASE {self.name} "
                              "CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci"))  # fmt: skip
        return server.set(database=self.name).render_as_string(hide_password=False)

    def __exit__(self, *exc) -> None:
        if self.engine is not None:
            with self.engine.begin() as conn:
                conn.execute(text(f"DROP DATABASE IF EXISTS {self.name}"))
            self.engine.dispose()


@pytest.fixture
def real_session(db_session, monkeypatch):
    """The city's app commits for real: the app's session, not the suite's rolled-back one."""
    monkeypatch.setattr(db, "session", REAL_SESSION)


# ------------------------------------------------------------------------------- the checks

# What the built-in positive_data_acceptance accepts from a schema-valid request.
ACCEPTED = {401, 403, 404, 409, 429}


def positive_data_accepted(ctx, response, case) -> None:
    """A schema-valid request is accepted, or refused only as ALLOWED says (the built-in
    positive_data_acceptance, with the per-field exceptions of ALLOWED)."""
    meta = case.meta
    if meta is None or not meta.generation.mode.is_positive:
        return
    status = response.status_code
    if status < 400 or status >= 500 or status in ACCEPTED:
        return
    try:
        error = response.json().get("error") or {}
    except (ValueError, AttributeError):
        error = {}
    # A field error on an item of a map ("answers.missing") counts as one on the map ("answers").
    fields = {name.split(".")[0] for name in error.get("fields") or {}}
    reasons = fields or {error.get("code", "(no error code)")}
    allowed = ALLOWED.get(f"{case.method.upper()} {case.operation.path}", Allowed(""))
    unexplained = sorted(reasons - allowed.refusals)
    if unexplained and ANY not in allowed.refusals:
        raise AssertionError(
            f"Schema-valid request refused with {status} on {', '.join(unexplained)}: declare "
            f"the rule in the spec, or add it to ALLOWED with why\n{response.text[:300]}"
        )


@as_admin.parametrize()
def test_as_an_admin(case, city, real_session):
    check(case, city, "admin")


@as_citizen.parametrize()
def test_as_a_citizen(case, city, real_session):
    check(case, city, "citizen")


def check(case, city: City, caller: str) -> None:
    """Send the case as this caller and run every check but the ones ALLOWED leaves out."""
    op = f"{case.method.upper()} {case.operation.path}"
    allowed = ALLOWED.get(op, Allowed(""))
    token = city.token(caller, fresh=op == "POST /api/v1/auth/logout",
                       throwaway=op == "DELETE /api/v1/me")  # fmt: skip
    excluded = [openapi_checks.positive_data_acceptance] + [
        getattr(openapi_checks, c, None) or getattr(core_checks, c) for c in allowed.checks
    ]
    response = case.call(app=city.app, headers={"Authorization": f"Bearer {token}"})
    case.validate_response(
        response, excluded_checks=excluded, additional_checks=[positive_data_accepted]
    )


def test_every_exception_names_an_operation():
    ops = {f"{m.upper()} {p}" for p, item in SPEC["paths"].items() for m in item}
    assert not set(ALLOWED) - ops, f"ALLOWED names no such operation: {set(ALLOWED) - ops}"


# ------------------------------------------------- what the run above found, one test each
# These use the suite's own app and rolled-back session (not the city above).


def _error(resp) -> dict[str, Any]:
    assert resp.content_type == "application/json"
    return resp.get_json()["error"]


@pytest.mark.parametrize("url", ["/api/v1/staff/reports", "/api/v1/staff/reports/export.csv"])
def test_an_unknown_channel_filter_is_422_not_500(client, make_staff, auth_header, url):
    """It reached the database as an enum value: a JSON 500 on the list, and the CSV export
    failed while streaming (after its 200 header)."""
    resp = client.get(url, query_string={"channel": "foo"}, headers=auth_header(make_staff()))
    assert resp.status_code == 422
    error = _error(resp)
    assert error["code"] == "validation_failed" and error["fields"] == {
        "channel": ["未知的上报渠道"]
    }


@pytest.mark.parametrize("query", [{"from": "0001-01-01"}, {"to": "9999-12-31"}])
def test_a_date_filter_near_year_1_or_9999_is_422(client, make_staff, auth_header, query):
    """A local midnight of such a date has no UTC instant: it was a 500."""
    resp = client.get(
        "/api/v1/staff/reports", query_string=query, headers=auth_header(make_staff())
    )
    assert resp.status_code == 422
    assert _error(resp)["fields"] == {next(iter(query)): ["日期应在 1900-01-01 到 2999-12-31 之间"]}


@pytest.mark.parametrize("url", ["/api/v1/staff/rewards", "/api/v1/staff/rewards/payouts"])
def test_an_unknown_reward_state_is_422(client, make_staff, auth_header, url):
    """It was a 500 (ValueError from the state enum)."""
    finance = make_staff("finance", roles=(Role.FINANCE,))
    resp = client.get(url, query_string={"state": "foo"}, headers=auth_header(finance))
    assert resp.status_code == 422 and "state" in _error(resp)["fields"]


def test_ids_beyond_the_database_integer_are_refused_not_500(client, make_staff, auth_header):
    """SQLite cannot bind an integer past 2**63 - 1 and MariaDB INT columns stop at 2**31 - 1:
    such ids in a path, a query and a body were 500s."""
    headers = auth_header(make_staff("admin", roles=(Role.ADMIN,)))
    huge = "99999999999999999999"
    resp = client.get(f"/api/v1/staff/shops/{huge}", headers=headers)
    assert resp.status_code == 404 and _error(resp)["code"] == "not_found"
    resp = client.get("/api/v1/staff/reports", query_string={"department_id": huge},
                      headers=headers)  # fmt: skip
    assert resp.status_code == 422
    assert _error(resp)["fields"] == {"department_id": ["应为 1 到 2147483647 之间的整数"]}
    resp = client.post("/api/v1/staff/rewards/batches", json={"entry_ids": [int(huge)]},
                       headers=headers)  # fmt: skip
    assert resp.status_code == 422 and "entry_ids" in _error(resp)["fields"]


def test_a_littering_time_near_year_1_is_422(client, make_citizen, auth_header):
    """Read as Beijing time, 0001-01-01T00:00 has no UTC instant: it was a 500."""
    body = {"plate": "辽A12345", "plate_colour": "blue", "occurred_at": "0001-01-01T00:00:00",
            "media": ["x"]}  # fmt: skip
    resp = client.post("/api/v1/littering/reports", json=body, headers=auth_header(make_citizen()))
    assert resp.status_code == 422
    assert _error(resp)["fields"]["occurred_at"] == ["时间超出范围"]


def _param(op: dict[str, Any], name: str) -> dict[str, Any]:
    return next(p for p in op["parameters"] if p["name"] == name)["schema"]


def _component(ref_holder: dict[str, Any]) -> dict[str, Any]:
    return SPEC["components"]["schemas"][ref_holder["$ref"].rsplit("/", 1)[1]]


def test_the_spec_declares_the_rules_the_server_enforces():
    """Each was enforced but undeclared: schema-valid requests were refused (or a 500)."""
    paths = SPEC["paths"]
    for path in ("/api/v1/staff/reports", "/api/v1/staff/reports/export.csv"):
        queue = paths[path]["get"]
        assert "hotline" in _param(queue, "channel")["enum"]
        assert "dispatched" in _param(queue, "state")["enum"]
        assert _param(queue, "from")["format"] == "date" and "pattern" in _param(queue, "from")
        assert _param(queue, "department_id")["maximum"] == 2**31 - 1
    bbox = _param(paths["/api/v1/shops/heatmap"]["get"], "bbox")
    assert bbox["type"] == "array" and bbox["minItems"] == bbox["maxItems"] == 4
    shop_id = paths["/api/v1/staff/shops/{shop_id}"]["parameters"][0]["schema"]
    assert shop_id == {"type": "integer", "minimum": 0, "maximum": 2**31 - 1}
    patch = paths["/api/v1/admin/categories/{category_id}"]["patch"]
    assert _component(patch["requestBody"]["content"]["application/json"]["schema"])[
        "minProperties"] == 1  # fmt: skip
    shop = SPEC["components"]["schemas"]["ShopUpdateIn"]
    assert {"required": ["name"]} in shop["allOf"][0]["anyOf"]  # at least one field
    action = SPEC["components"]["schemas"]["ActionIn"]["properties"]["extension"]["anyOf"]
    assert {"type": "object", "nullable": True, "enum": [None]} in action  # null, not any object
    rewards = paths["/api/v1/staff/rewards"]["get"]
    assert "accrued" in _param(rewards, "state")["enum"]


def test_the_spec_documents_submissions_filters_and_guarded_bodies():
    """What was documented loosely (any string, a body without rules, both lists' states) is
    declared as the server enforces it; moving the role checks outside the body's validation
    kept each body and its responses in the spec."""
    paths = SPEC["paths"]
    for path, required in (("/api/v1/reports", ["description"]),
                           ("/api/v1/staff/reports", ["channel", "description"])):  # fmt: skip
        content = paths[path]["post"]["requestBody"]["content"]
        for media in ("application/json", "multipart/form-data"):
            body = _component(content[media]["schema"])
            assert body["required"] == required and body["additionalProperties"] is False
            assert body["properties"]["lat"]["maximum"] == 90 and "anyOf" in str(body)
        form = _component(content["multipart/form-data"]["schema"])
        assert form["properties"]["photos"]["items"]["format"] == "binary"
        assert not any(p.get("nullable") for p in form["properties"].values())  # a form has no null
    assert body["properties"]["channel"]["enum"] == ["hotline", "inspector"]  # the staff form
    day = paths["/api/v1/admin/calendar/{day}"]["parameters"][0]
    assert day["name"] == "day" and day["schema"]["format"] == "date"
    for path in ("/api/v1/stats/cases", "/api/v1/stats/heatmap"):
        stats = paths[path]["get"]
        assert _param(stats, "from")["format"] == "date" and "pattern" in _param(stats, "to")
        assert _param(stats, "department_id")["maximum"] == 2**31 - 1
    assert "pattern" in _param(paths["/api/v1/stats/cases"]["get"], "as_of")
    bbox = _param(paths["/api/v1/stats/heatmap"]["get"], "bbox")
    assert bbox["type"] == "array" and bbox["minItems"] == bbox["maxItems"] == 4
    assert _param(paths["/api/v1/nearby"]["get"], "kind")["minLength"] == 1
    entries = _param(paths["/api/v1/staff/rewards"]["get"], "state")["enum"]
    payouts = _param(paths["/api/v1/staff/rewards/payouts"]["get"], "state")["enum"]
    assert "paid" in entries and "success" not in entries
    assert "success" in payouts and "paid" not in payouts and "accrued" not in payouts
    guarded = {("/api/v1/reports/{number}/rating", "200"),
               ("/api/v1/staff/reports/{number}/actions/{action}", "200"),
               ("/api/v1/staff/rewards/{entry_id}/cancel", "200"),
               ("/api/v1/staff/rewards/{entry_id}/retry", "201"),
               ("/api/v1/staff/rewards/batches", "201"),
               ("/api/v1/staff/rewards/payouts/{number}/offline", "200")}  # fmt: skip
    for path, ok in guarded:
        post = paths[path]["post"]
        assert "$ref" in post["requestBody"]["content"]["application/json"]["schema"], path
        assert {ok, "401", "422"} <= set(post["responses"]), path
    assert "Idempotency-Key" in str(paths["/api/v1/staff/rewards/batches"]["post"]["parameters"])
