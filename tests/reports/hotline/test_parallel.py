"""The platform retrying one order from N threads at once, against a database whose
transactions really commit: one case, every answer names it, no 5xx."""

from __future__ import annotations

from collections import Counter
from concurrent.futures import ThreadPoolExecutor

import pytest
from sqlalchemy import func, insert, select

from app.extensions import db
from app.geo.models import Region
from reports.hotline.models import HotlineOrder
from reports.models import Report
from tests.conftest import committed_app
from tests.reports.conftest import WEST, load_categories, square
from tests.reports.hotline.conftest import URL, order, signed

N = 10


@pytest.fixture
def live(live_db_url, tmp_path):
    app = committed_app(live_db_url, tmp_path)
    with app.app_context():
        load_categories()
        lat1, lng1, lat2, lng2 = WEST
        db.session.execute(insert(Region), [{
            "code": "T-W", "name": "测试一区", "level": "district", "geometry": square(WEST),
            "min_lat": lat1, "min_lng": lng1, "max_lat": lat2, "max_lng": lng2, "area_m2": 1.0,
            "source": "test"}])  # fmt: skip
        db.session.commit()
    try:
        yield app
    finally:
        with app.app_context():
            db.session.remove()
            db.engine.dispose()


def test_n_parallel_retries_of_one_order_make_one_case(live):
    raw, headers = signed(live, order("SY12345-PARALLEL-1"))

    def post(_):
        return live.test_client().post(URL, data=raw, headers=headers)

    with ThreadPoolExecutor(N) as pool:
        results = list(pool.map(post, range(N)))
    statuses = Counter(r.status_code for r in results)
    assert statuses == {201: 1, 200: N - 1}, [(r.status_code, r.get_json()) for r in results]
    assert len({r.get_json()["case_number"] for r in results}) == 1
    with live.app_context():
        assert db.session.scalar(select(func.count()).select_from(Report)) == 1
        assert db.session.scalar(select(func.count()).select_from(HotlineOrder)) == 1
