"""The case heat map: cases counted per square cell, as GeoJSON on the shop heat map's grid.

The counting is one SQL statement: the cell indices are computed in SQL over the rows of the
period (``created_at``, indexed) and grouped there, so only the occupied cells reach Python, never
the cases. The grid (app.geo.grid) uses the shop map's reference latitude when there are shops, so
the dashboard draws both layers in the very same squares.

Who sees what follows GET /api/v1/stats/cases (reports.stats_api.build_query): any staff account;
one tied to a department (not an admin) sees the cases of that department and the units below it.
"""

from __future__ import annotations

from typing import Any

import marshmallow as ma
from flask import Response
from flask.views import MethodView
from flask_smorest import Blueprint
from marshmallow import validate
from sqlalchemy import Integer, func, select
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.functions import FunctionElement

from app.apispec import Bbox, document_errors
from app.auth.current import staff_required
from app.auth.models import StaffUser
from app.extensions import db
from app.geo.grid import (
    CELL_DEFAULT_M,
    CELL_MAX_M,
    CELL_MIN_M,
    M_PER_DEG,
    feature_collection,
    metres_per_degree_lng,
)
from app.geo.models import Region
from reports.models import Report, ReportState
from reports.stats import StatsQuery, _filters
from reports.stats_api import StatsArgs, build_query
from shops.service import heat_reference_kx

blp = Blueprint("case_heatmap", __name__, url_prefix="/api/v1/stats", description="案件热力图")


class floor_int(FunctionElement):
    """FLOOR() as an integer; SQLite builds without the math functions get it from CAST."""

    type = Integer()
    inherit_cache = True


@compiles(floor_int)
def _floor_default(element, compiler, **kw):
    return f"FLOOR({compiler.process(element.clauses, **kw)})"


@compiles(floor_int, "sqlite")
def _floor_sqlite(element, compiler, **kw):
    # CAST truncates toward zero; subtract 1 where that rounded a negative value up.
    value = compiler.process(element.clauses, **kw)
    return f"(CAST({value} AS INTEGER) - ({value} < CAST({value} AS INTEGER)))"


class HeatArgs(StatsArgs):
    """GET /api/v1/stats/heatmap: the statistics' period, scope and filters, plus the grid."""

    class Meta:
        exclude = ("group_by", "as_of")

    state = ma.fields.String(validate=validate.OneOf([s.value for s in ReportState]), metadata={
        "description": "only this state (default: all but merged duplicates)"})  # fmt: skip
    cell = ma.fields.Integer(load_default=CELL_DEFAULT_M,
                             validate=validate.Range(CELL_MIN_M, CELL_MAX_M),
                             metadata={"description": "square cell size in metres"})  # fmt: skip
    bbox = Bbox(metadata={"description": "minLng,minLat,maxLng,maxLat (GCJ-02)"})

    @ma.post_load
    def no_bbox(self, data: dict[str, Any], **_: Any) -> dict[str, Any]:
        """No bbox is None (the whole city)."""
        data.setdefault("bbox", None)
        return data


def grid_kx() -> float:
    """The grid's metres per degree of longitude: the shop map's, else the districts' middle
    latitude's, else the equator's."""
    kx = heat_reference_kx()
    if kx is not None:
        return kx
    middle = db.session.scalar(select(func.avg((Region.min_lat + Region.max_lat) / 2))
                               .where(Region.level == "district"))  # fmt: skip
    return metres_per_degree_lng(float(middle or 0.0))


def cell_counts(
    q: StatsQuery,
    state: str | None,
    bbox: tuple[float, float, float, float] | None,
    cell: int,
    kx: float,
) -> list[tuple[int, int, int]]:
    """(column, row, count) of every occupied cell: cases created in the period with a point."""
    start, end = q.bounds()
    inner = select(floor_int(Report.lng * kx / cell).label("x"),
                   floor_int(Report.lat * M_PER_DEG / cell).label("y"))  # fmt: skip
    inner = inner.where(Report.created_at >= start, Report.created_at < end,
                        Report.lat.is_not(None), Report.lng.is_not(None), *_filters(q))  # fmt: skip
    if state is None:
        inner = inner.where(Report.state != ReportState.MERGED)
    else:
        inner = inner.where(Report.state == ReportState(state))
    if bbox is not None:
        min_lng, min_lat, max_lng, max_lat = bbox
        inner = inner.where(Report.lng.between(min_lng, max_lng),
                            Report.lat.between(min_lat, max_lat))  # fmt: skip
    cells = inner.subquery()
    stmt = (select(cells.c.x, cells.c.y, func.count()).group_by(cells.c.x, cells.c.y)
            .order_by(cells.c.x, cells.c.y))  # fmt: skip
    return [(int(x), int(y), int(n)) for x, y, n in db.session.execute(stmt)]


def case_heatmap(q: StatsQuery, state: str | None, bbox, cell: int) -> bytes:
    """The FeatureCollection of the case counts, with the period in its properties."""
    kx = grid_kx()
    rows = cell_counts(q, state, bbox, cell, kx)
    cols, ys, counts = (list(c) for c in zip(*rows, strict=True)) if rows else ([], [], [])
    period = {"from": q.first_day.isoformat(), "to": q.last_day.isoformat()}
    return feature_collection(cols, ys, counts, cell, kx, **period)


@blp.route("/heatmap")
class CaseHeatmap(MethodView):
    @blp.arguments(HeatArgs, location="query")
    @blp.response(200, description="GeoJSON FeatureCollection: one square cell per Feature")
    @document_errors(blp, 401, 403, 422)
    @staff_required()
    def get(self, args: dict[str, Any], staff: StaffUser):
        """Cases reported in a period counted per square cell (metres) as GeoJSON, on the shop
        heat map's grid; filters as GET /api/v1/stats/cases plus state and bbox. Default
        period: this month. Cases without a point are not counted."""
        q = build_query({**args, "group_by": "none"}, staff)
        body = case_heatmap(q, args.get("state"), args["bbox"], args["cell"])
        return Response(body, mimetype="application/geo+json")
