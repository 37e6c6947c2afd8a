"""Region files nested past any GeoJSON (thousands of arrays in ``coordinates``, or in a
property) are refused clearly: 422 in the one error shape from the API, a message and a failing
exit status from the command line, never a RecursionError, a 500 or a traceback."""

from __future__ import annotations

import io

import pytest
from sqlalchemy import func, select

from app.auth.models import Role
from app.errors import ValidationFailed
from app.extensions import db
from app.geo.importer import ImportOptions, import_regions, load_geojson
from app.geo.models import Region

RING = "[[123.34,41.80],[123.35,41.80],[123.35,41.808],[123.34,41.808],[123.34,41.80]]"


def nested(depth: int, inner: str = "0") -> str:
    return "[" * depth + inner + "]" * depth


def region_file(coordinates: str, name: str = '"深网格"') -> bytes:
    """A FeatureCollection written by hand: json.dumps itself cannot write such depths."""
    return (
        '{"type": "FeatureCollection", "features": [{"type": "Feature", '
        f'"properties": {{"code": "D1", "name": {name}}}, '
        f'"geometry": {{"type": "Polygon", "coordinates": {coordinates}}}}}]}}'
    ).encode()


# Deep enough to break the JSON parser (5,000), or to parse and then break whatever walks it
# (900: under the interpreter's limit on its own, over it below a Flask request's frames).
DEEP_FILES = {
    "coordinates-5000": region_file(nested(5000)),
    "coordinates-900": region_file(nested(900)),
    "ring-inside-900": region_file(nested(898, RING)),
    "property-5000": region_file(f"[{RING}]", name=nested(5000, '"x"')),
    "property-900": region_file(f"[{RING}]", name=nested(900, '"x"')),
}


def count_regions() -> int:
    return db.session.scalar(select(func.count()).select_from(Region))


@pytest.fixture
def admin(make_staff, auth_header):
    return auth_header(make_staff("root", roles=(Role.ADMIN,)))


def test_a_normal_hand_written_file_still_imports(db_session):
    options = ImportOptions(level="grid", coord_sys="wgs84", code_prop="code")
    result = import_regions(load_geojson(region_file(f"[{RING}]")), options)
    assert result.created == ["D1"]


@pytest.mark.parametrize("name", DEEP_FILES)
def test_service_refuses_deep_nesting_as_a_validation_error(db_session, name):
    options = ImportOptions(level="grid", coord_sys="wgs84", code_prop="code")
    with pytest.raises(ValidationFailed) as caught:
        import_regions(load_geojson(DEEP_FILES[name]), options)
    assert caught.value.status == 422
    assert "嵌套" in str(caught.value.fields)
    assert count_regions() == 0


@pytest.mark.parametrize("name", DEEP_FILES)
def test_api_answers_422_naming_the_file(client, admin, name):
    form = {"file": (io.BytesIO(DEEP_FILES[name]), "deep.geojson"), "level": "grid",
            "coord_sys": "wgs84", "code_prop": "code"}  # fmt: skip
    resp = client.post("/api/v1/admin/regions/import", data=form, headers=admin,
                       content_type="multipart/form-data")  # fmt: skip
    assert resp.status_code == 422, resp.get_data(as_text=True)[:300]
    error = resp.get_json()["error"]
    assert error["code"] in {"validation_failed", "region_import_failed"}
    assert "嵌套" in str(error["fields"])
    assert count_regions() == 0


@pytest.mark.parametrize("name", DEEP_FILES)
def test_cli_prints_a_message_and_fails(app, tmp_path, name):
    path = tmp_path / "deep.geojson"
    path.write_bytes(DEEP_FILES[name])
    result = app.test_cli_runner().invoke(
        args=["reports", "import-regions", str(path), "--level", "grid", "--coord-sys", "wgs84",
              "--code-prop", "code"]
    )  # fmt: skip
    assert isinstance(result.exception, SystemExit), result.exception  # not a RecursionError
    assert result.exit_code == 2  # the command's status for a refused file
    assert "嵌套" in result.output and "Traceback" not in result.output
    assert count_regions() == 0
