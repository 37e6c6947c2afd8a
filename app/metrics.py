"""Prometheus metrics at ``/metrics``: requests by route, and gauges read at scrape time.

Every response counts in ``zhcg_http_requests_total`` and ``zhcg_http_request_duration_seconds``
by method and route (the URL rule, ``/api/v1/reports/<int:report_id>``, never the raw path; a
path no rule matched is ``<unmatched>``), and error responses also in ``zhcg_http_errors_total``
with the error's stable code. Features add gauges their tables answer (the outbox depth, payouts
by state) with ``add_gauge`` in their ``init_app``; they are read when Prometheus scrapes, in the
process that answers the scrape, so the shell imports no feature.

Under gunicorn each worker counts on its own: set ``PROMETHEUS_MULTIPROC_DIR`` to an empty
directory (wiped before every start) and the counters are written to memory-mapped files there
that any worker sums when scraped (prometheus-client's multiprocess mode).

The scrape needs ``Authorization: Bearer <METRICS_TOKEN>``; with no token set, only a direct
request from this host (127.0.0.1 or ::1, without proxy headers) is answered.
"""

from __future__ import annotations

import contextlib
import hmac
import logging
import os
import re
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from flask import Blueprint, Flask, Response, current_app, g, request
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Histogram,
    generate_latest,
)
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.multiprocess import MultiProcessCollector
from sqlalchemy import Select

from app.errors import Forbidden, Unauthorized
from app.extensions import db

log = logging.getLogger(__name__)

GAUGES_KEY = "metrics_gauges"
MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"
UNMATCHED = "<unmatched>"
_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})
_NAME = re.compile(r"^[a-zA-Z_:][a-zA-Z0-9_:]*$")
_CODE = re.compile(r"^[a-z][a-z0-9_]{0,63}$")
_LOCAL = frozenset({"127.0.0.1", "::1"})
_PROXY_HEADERS = ("X-Forwarded-For", "X-Real-IP", "Forwarded")

# The request metrics live in this registry (not the library's global one): a scrape reads it,
# or, in multiprocess mode, the files every worker wrote.
REGISTRY = CollectorRegistry()
REQUESTS = Counter(
    "zhcg_http_requests",
    "HTTP requests answered, by method, route (the URL rule) and status class",
    ["method", "route", "status_class"],
    registry=REGISTRY,
)
LATENCY = Histogram(
    "zhcg_http_request_duration_seconds",
    "Time from the first before_request hook to the response, by method and route",
    ["method", "route"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0),
    registry=REGISTRY,
)
ERRORS = Counter(
    "zhcg_http_errors",
    "Error responses (4xx and 5xx), by method, route, status class and the error's code",
    ["method", "route", "status_class", "code"],
    registry=REGISTRY,
)

bp = Blueprint("metrics", __name__)

GaugeValue = float | int | Mapping[Any, float | int]
GaugeSource = Callable[[], GaugeValue] | Select


@dataclass(frozen=True)
class Gauge:
    """A gauge read at scrape time: a number, or one number per value of ``label``."""

    name: str
    help: str
    source: GaugeSource
    label: str | None = None
    known: tuple[str, ...] = ()  # label values reported as 0 when the source has no row


def add_gauge(
    app: Flask,
    name: str,
    help: str,
    source: GaugeSource,
    *,
    label: str | None = None,
    known: tuple[str, ...] | list[str] = (),
) -> None:
    """Report ``source`` as the gauge ``name`` on every scrape. ``source`` is a function
    returning a number (or, with ``label``, a mapping of label value to number) or a SELECT:
    one column gives the number, two columns (label value, number) one sample a row. ``known``
    label values are reported as 0 when missing, so an alert sees a zero and not a gap."""
    if not _NAME.match(name) or (label is not None and not _NAME.match(label)):
        raise ValueError(f"invalid metric or label name: {name!r} {label!r}")
    gauges = app.extensions.setdefault(GAUGES_KEY, {})
    if name in gauges:
        raise ValueError(f"gauge {name!r} is registered twice")
    gauges[name] = Gauge(name, help, source, label, tuple(str(k) for k in known))


def init_app(app: Flask) -> None:
    """The /metrics route and the hooks that time and count every request."""
    app.extensions.setdefault(GAUGES_KEY, {})
    app.register_blueprint(bp)
    # First of all before_request hooks, so the time includes theirs (rate limits, auth).
    app.before_request_funcs.setdefault(None, []).insert(0, _start_clock)
    app.after_request(_count)


def _start_clock() -> None:
    g.metrics_started = time.perf_counter()


def _count(response: Response) -> Response:
    """Count the response; never lets a metrics failure change what the client gets."""
    try:
        rule = request.url_rule
        route = rule.rule if rule is not None else UNMATCHED
        # A hostile client may send any method name; labels must stay a small set.
        method = request.method if request.method in _METHODS else "OTHER"
        status_class = f"{response.status_code // 100}xx"
        REQUESTS.labels(method, route, status_class).inc()
        started = g.get("metrics_started")
        if started is not None:
            LATENCY.labels(method, route).observe(time.perf_counter() - started)
        if response.status_code >= 400:
            ERRORS.labels(method, route, status_class, _error_code(response)).inc()
    except Exception:  # noqa: BLE001 - metrics are best effort
        log.exception("counting a request failed")
    return response


def _error_code(response: Response) -> str:
    """The stable code of the one JSON error shape; "page" for HTML error pages."""
    if response.is_streamed or not response.is_json:
        return "page" if response.mimetype == "text/html" else "other"
    body = response.get_json(silent=True)
    code = None
    if isinstance(body, dict) and isinstance(body.get("error"), dict):
        code = body["error"].get("code")
    return code if isinstance(code, str) and _CODE.match(code) else "other"


def _authorize() -> None:
    """The bearer token from METRICS_TOKEN, or (none set) a direct request from this host."""
    token = current_app.config.get("METRICS_TOKEN") or ""
    if token:
        given = request.headers.get("Authorization", "")
        scheme, _, value = given.partition(" ")
        if scheme.lower() != "bearer" or not hmac.compare_digest(
            value.strip().encode(), token.encode()
        ):
            raise Unauthorized(
                "需要监控令牌",
                code="metrics_token_required",
                headers={"WWW-Authenticate": "Bearer"},
            )
        return
    proxied = any(request.headers.get(name) for name in _PROXY_HEADERS)
    if request.remote_addr not in _LOCAL or proxied:
        raise Forbidden("监控指标仅限本机访问", code="metrics_local_only")


@bp.get("/metrics")
def scrape() -> Response:
    """The Prometheus text format: request metrics (every worker's) and the features' gauges."""
    _authorize()
    registry = CollectorRegistry()
    if os.environ.get(MULTIPROC_ENV):
        MultiProcessCollector(registry)
    else:
        registry.register(_Forward(REGISTRY))
    registry.register(_ScrapeGauges(list(current_app.extensions.get(GAUGES_KEY, {}).values())))
    return Response(generate_latest(registry), headers={"Content-Type": CONTENT_TYPE_LATEST})


class _Forward:
    """A registry's metrics inside another registry."""

    def __init__(self, registry: CollectorRegistry) -> None:
        self.registry = registry

    def collect(self) -> Iterator[Metric]:
        return self.registry.collect()


class _ScrapeGauges:
    """The features' gauges, read now; one that fails is left out and reported in
    ``zhcg_gauge_read_ok`` (0), and the scrape still succeeds."""

    def __init__(self, gauges: list[Gauge]) -> None:
        self.gauges = gauges

    def collect(self) -> Iterator[Metric]:
        ok = GaugeMetricFamily(
            "zhcg_gauge_read_ok",
            "1 if the gauge was read on this scrape, 0 if it failed",
            labels=["gauge"],
        )
        for gauge in self.gauges:
            try:
                family = _read(gauge)
            except Exception:  # noqa: BLE001 - one broken gauge must not hide the others
                log.exception("reading gauge %s failed", gauge.name)
                with contextlib.suppress(Exception):  # the connection may be gone
                    db.session.rollback()
                ok.add_metric([gauge.name], 0)
                continue
            ok.add_metric([gauge.name], 1)
            yield family
        yield ok


def _read(gauge: Gauge) -> GaugeMetricFamily:
    """Run the gauge's source and build its metric family."""
    if isinstance(gauge.source, Select):
        rows = db.session.execute(gauge.source).all()
        if gauge.label is None:
            value: GaugeValue = (rows[0][0] if rows else 0) or 0
        else:
            value = {row[0]: row[1] for row in rows}
    else:
        value = gauge.source()
    if gauge.label is None:
        family = GaugeMetricFamily(gauge.name, gauge.help)
        family.add_metric([], float(value))  # type: ignore[arg-type]
        return family
    family = GaugeMetricFamily(gauge.name, gauge.help, labels=[gauge.label])
    samples = {key: 0.0 for key in gauge.known}
    for key, number in dict(value).items():  # type: ignore[arg-type]
        samples[str(getattr(key, "value", key))] = float(number or 0)
    for key, number in sorted(samples.items()):
        family.add_metric([key], number)
    return family
