"""Citizens with poor eyesight zoom the H5 pages with two fingers: no page may forbid it."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).parents[1]
FORBIDS_ZOOM = re.compile(r"maximum-scale\s*=\s*1(\.0)?\b|user-scalable\s*=\s*(no|0)", re.I)


def test_no_template_forbids_pinch_zoom():
    templates = [p for p in ROOT.glob("**/templates/**/*.html") if ".venv" not in p.parts]
    assert len(templates) > 20
    offenders = [str(p.relative_to(ROOT)) for p in templates if FORBIDS_ZOOM.search(p.read_text())]
    assert offenders == []


def test_the_citizen_home_page_lets_people_zoom(client):
    page = client.get("/h5/", headers={"Accept": "text/html"}).get_data(as_text=True)
    viewport = re.search(r'<meta name="viewport" content="([^"]+)"', page)
    assert viewport and "initial-scale=1" in viewport[1]
    assert not FORBIDS_ZOOM.search(viewport[1])
