"""Probes, request ids and the API docs."""


def test_healthz_answers_ok(client):
    resp = client.get("/healthz")
    assert resp.status_code == 200
    assert resp.get_json() == {"status": "ok"}


def test_readyz_checks_the_database(client):
    resp = client.get("/readyz")
    assert resp.status_code == 200
    assert resp.get_json()["database"] == "ok"


def test_readyz_is_503_when_the_database_fails(client, db_session, monkeypatch):
    def broken(*args, **kwargs):
        raise RuntimeError("connection refused")

    monkeypatch.setattr(db_session, "execute", broken)
    resp = client.get("/readyz")
    assert resp.status_code == 503
    assert resp.get_json()["error"]["code"] == "database_unavailable"


def test_request_id_is_echoed_or_generated(client):
    given = client.get("/healthz", headers={"X-Request-ID": "abc12345-trace"})
    assert given.headers["X-Request-ID"] == "abc12345-trace"
    made = client.get("/healthz", headers={"X-Request-ID": "bad id with spaces"})
    assert made.headers["X-Request-ID"] != "bad id with spaces"
    assert len(made.headers["X-Request-ID"]) == 32


def test_openapi_spec_lists_endpoints_and_error_shape(client):
    spec = client.get("/api/openapi.json").get_json()
    assert "/api/v1/auth/miniprogram" in spec["paths"]
    error = spec["components"]["schemas"]["Error"]
    assert "error" in error["properties"]
    responses = spec["paths"]["/api/v1/auth/miniprogram"]["post"]["responses"]
    assert {"401", "422", "429", "503"} <= set(responses)


def test_docs_ui_uses_local_assets(client):
    page = client.get("/api/docs")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert "/api/docs/assets/swagger-ui-bundle.js" in html
    assert "https://" not in html
    asset = client.get("/api/docs/assets/swagger-ui-bundle.js")
    assert asset.status_code == 200
    assert b"SwaggerUIBundle" in asset.data
