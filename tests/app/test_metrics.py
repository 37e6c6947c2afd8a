"""/metrics: request counts and latency by URL rule, the features' gauges, a protected scrape."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap

import pytest
from prometheus_client.parser import text_string_to_metric_families

from app.extensions import db
from app.metrics import GAUGES_KEY, Gauge
from reports.littering.models import PayoutState
from reports.models import OutboxMessage, OutboxStatus
from tests.conftest import error_of

NEWS = "/api/v1/news/<int:article_id>"


def scrape(client, **kwargs) -> dict[tuple[str, frozenset], float]:
    """The scrape, parsed: {(sample name, labels): value}."""
    resp = client.get("/metrics", **kwargs)
    assert resp.status_code == 200, resp.get_data(as_text=True)
    assert resp.headers["Content-Type"].startswith("text/plain; version=")
    samples = {}
    for family in text_string_to_metric_families(resp.get_data(as_text=True)):
        for sample in family.samples:
            samples[(sample.name, frozenset(sample.labels.items()))] = sample.value
    return samples


def value(samples, name: str, **labels: str) -> float:
    return samples.get((name, frozenset(labels.items())), 0.0)


def test_requests_count_by_url_rule_and_status_class(client):
    before = scrape(client)
    for article in (987654, 987655, 987656):  # three raw paths, one rule
        assert client.get(f"/api/v1/news/{article}").status_code == 404
    assert client.get("/healthz").status_code == 200
    after = scrape(client)

    def moved(name, **labels):
        return value(after, name, **labels) - value(before, name, **labels)

    news_4xx = {"method": "GET", "route": NEWS, "status_class": "4xx"}
    assert moved("zhcg_http_requests_total", **news_4xx) == 3
    assert moved("zhcg_http_errors_total", **news_4xx, code="news_not_found") == 3
    assert moved("zhcg_http_request_duration_seconds_count", method="GET", route=NEWS) == 3
    assert moved("zhcg_http_request_duration_seconds_sum", method="GET", route=NEWS) > 0
    slowest = value(after, "zhcg_http_request_duration_seconds_bucket", method="GET", route=NEWS,
                    le="+Inf")  # fmt: skip
    assert slowest >= 3
    assert (
        moved("zhcg_http_requests_total", method="GET", route="/healthz", status_class="2xx") == 1
    )
    assert not any("987654" in str(labels) for _name, labels in after)


def test_hostile_paths_and_methods_do_not_grow_the_labels(client):
    before = scrape(client)
    for n in range(20):
        client.get(f"/no/such/page/{n}?x={n}")
    client.open("/healthz", method="FROBNICATE")
    after = scrape(client)
    unmatched = {"method": "GET", "route": "<unmatched>", "status_class": "4xx"}
    assert (
        value(after, "zhcg_http_requests_total", **unmatched)
        - value(before, "zhcg_http_requests_total", **unmatched)
        == 20
    )
    assert value(after, "zhcg_http_requests_total", method="OTHER", route="<unmatched>",
                 status_class="4xx") >= 1  # fmt: skip
    assert not any("/no/such" in str(labels) or "FROBNICATE" in str(labels) for _n, labels in after)


def test_the_outbox_depth_and_payouts_are_read_at_scrape_time(client, db_session):
    start = value(scrape(client), "zhcg_outbox_pending")
    for status in (OutboxStatus.PENDING, OutboxStatus.PENDING, OutboxStatus.PENDING,
                   OutboxStatus.SENT, OutboxStatus.FAILED):  # fmt: skip
        db.session.add(OutboxMessage(kind="wechat_notice", payload={}, status=status))
    db.session.flush()

    samples = scrape(client)
    assert value(samples, "zhcg_outbox_pending") == start + 3
    for state in PayoutState:  # every state is reported, 0 when no payout is in it
        assert ("zhcg_payouts", frozenset({("state", state.value)})) in samples
    assert value(samples, "zhcg_gauge_read_ok", gauge="zhcg_outbox_pending") == 1


def test_a_failing_gauge_is_reported_and_the_scrape_still_answers(app, client, monkeypatch):
    def broken():
        raise RuntimeError("table gone")

    gauges = app.extensions[GAUGES_KEY]
    monkeypatch.setitem(gauges, "zhcg_test_broken", Gauge("zhcg_test_broken", "broken", broken))
    samples = scrape(client)
    assert value(samples, "zhcg_gauge_read_ok", gauge="zhcg_test_broken") == 0
    assert ("zhcg_test_broken", frozenset()) not in samples
    assert value(samples, "zhcg_gauge_read_ok", gauge="zhcg_outbox_pending") == 1


def test_a_scrape_without_the_token_is_refused(app, client, monkeypatch):
    monkeypatch.setitem(app.config, "METRICS_TOKEN", "scrape-token-0123456789abcdef")
    for headers in ({}, {"Authorization": "Bearer wrong-token"}, {"Authorization": "Basic eDp5"}):
        resp = client.get("/metrics", headers=headers)
        assert resp.status_code == 401
        assert resp.headers["WWW-Authenticate"] == "Bearer"
        assert error_of(resp) == {"code": "metrics_token_required",
                                            "message": "需要监控令牌"}  # fmt: skip
        assert b"zhcg_http" not in resp.data
    # With the token, from anywhere (the token is the protection).
    remote = {"REMOTE_ADDR": "203.0.113.9"}
    good = {"Authorization": "Bearer scrape-token-0123456789abcdef"}
    assert scrape(client, headers=good, environ_base=remote)


def test_without_a_token_only_this_host_may_scrape(client):
    resp = client.get("/metrics", environ_base={"REMOTE_ADDR": "203.0.113.9"})
    assert resp.status_code == 403
    assert error_of(resp) == {
        "code": "metrics_local_only",
        "message": "监控指标仅限本机访问",
    }
    # A reverse proxy on this host makes every client look local: proxied requests are refused.
    proxied = client.get("/metrics", headers={"X-Forwarded-For": "203.0.113.9"})
    assert proxied.status_code == 403
    assert scrape(client)  # 127.0.0.1, not proxied


MULTIPROCESS_SCRIPT = textwrap.dedent(
    """
    import os, sys
    from app import create_app

    app = create_app("testing", {"SQLALCHEMY_DATABASE_URI": "sqlite://"})
    children = []
    for worker in range(2):  # two forked workers, as gunicorn's preload_app makes them
        pid = os.fork()
        if pid == 0:
            client = app.test_client()
            for _ in range(5):
                client.get("/healthz")
            os._exit(0)
        children.append(pid)
    for pid in children:
        os.waitpid(pid, 0)
    sys.stdout.write(app.test_client().get("/metrics").get_data(as_text=True))
    """
)


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs fork")
def test_multiprocess_mode_sums_every_workers_counts(tmp_path):
    """With PROMETHEUS_MULTIPROC_DIR, any worker's scrape reports what all of them counted."""
    env = dict(os.environ, PROMETHEUS_MULTIPROC_DIR=str(tmp_path), APP_ENV="testing")
    env.pop("TEST_DATABASE_URL", None)
    out = subprocess.run(
        [sys.executable, "-c", MULTIPROCESS_SCRIPT],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=True,
    ).stdout
    samples = {}
    for family in text_string_to_metric_families(out):
        for sample in family.samples:
            samples[(sample.name, frozenset(sample.labels.items()))] = sample.value
    healthz = {"method": "GET", "route": "/healthz", "status_class": "2xx"}
    assert value(samples, "zhcg_http_requests_total", **healthz) == 10
    assert value(samples, "zhcg_http_request_duration_seconds_count", method="GET",
                 route="/healthz") == 10  # fmt: skip
    assert list(tmp_path.glob("counter_*.db"))
