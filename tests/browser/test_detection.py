"""Detection devices (路长慧眼) on the staff side, in a real browser: a camera's two detections
(one confident, one not), the case page naming the algorithm and its confidence, a dispatcher
rejecting the unsure one as 无效信息, and the dashboard's precision of that algorithm."""

from __future__ import annotations

import io
import subprocess
import uuid

import requests
from PIL import Image

from reports.seed import DEMO_POINTS
from tests.browser.conftest import BIN, ROOT, desktop_context, staff_login, watch

ALGORITHM = "ALG05"  # 露天烧烤: no other browser test posts it
METRE = 1 / 111_320


def create_device(live_server, name: str) -> str:
    """A device registered as an operator does (`flask reports create-device`): its key."""
    command = [str(BIN / "flask"), "reports", "create-device", name]
    done = subprocess.run(command, cwd=ROOT, env=live_server.env, check=True,
                          capture_output=True, text=True)  # fmt: skip
    return done.stdout.split("key: ", 1)[1].split()[0]


def detect(live_server, key: str, confidence: str, metres_north: float,
           algorithm: str = ALGORITHM) -> dict:  # fmt: skip
    """One detection near 铁西区小北一路; the answer's JSON."""
    where = DEMO_POINTS["xiaobei_yilu"]
    data = {"algorithm": algorithm, "confidence": confidence, "event_id": uuid.uuid4().hex,
            "lat": str(where.lat + metres_north * METRE), "lng": str(where.lng)}  # fmt: skip
    resp = requests.post(live_server.url("/api/v1/ingest/detections"), data=data, timeout=30,
                         files={"evidence": ("frame.jpg", _jpeg(), "image/jpeg")},
                         headers={"Authorization": f"Bearer {key}"})  # fmt: skip
    assert resp.status_code == 201, resp.text
    return resp.json()


def _jpeg() -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", (64, 48), (90, 60, 40)).save(buf, "JPEG")
    return buf.getvalue()


def test_case_page_names_the_algorithm_and_the_dashboard_shows_its_precision(
    browser, live_server, page_errors
):
    key = create_device(live_server, f"铁西区小北一路{uuid.uuid4().int % 10**6:06d}号摄像头")
    sure = detect(live_server, key, "0.97", 0)
    unsure = detect(live_server, key, "0.52", 300)
    assert (sure["state"], unsure["state"]) == ("dispatched", "reported")

    desk = desktop_context(browser, live_server)
    staff = desk.new_page()
    watch(staff, page_errors)
    staff_login(staff, "dispatcher")
    staff.goto(f"/console/cases/{unsure['number']}")
    assert staff.inner_text("#case-algorithm") == "露天烧烤"
    assert staff.inner_text("#case-confidence").startswith("52%")
    staff.click("#action-reject")
    staff.select_option("#reject-reason", "invalid")
    staff.click("#submit-reject")
    staff.wait_for_selector("#confirm-dialog[open]")
    staff.click("#confirm-ok")
    staff.wait_for_selector("#flash:not([hidden])")
    assert staff.inner_text("#case-state") == "不予立案"

    staff.goto("/console/stats")
    row = staff.locator(f"#detection-table tr[data-code={ALGORITHM}]")
    assert row.locator("td").first.inner_text() == "露天烧烤"
    counts = {name: row.locator(f"td.{name}").inner_text()
              for name in ("n-detections", "n-confirmed", "n-false", "precision")}  # fmt: skip
    assert counts == {"n-detections": "2", "n-confirmed": "1", "n-false": "1", "precision": "50%"}
    assert page_errors == []
    desk.close()


def machine_case(live_server) -> str:
    """A case a camera opened with a catalogue algorithm (井盖缺失或破损, waiting in triage): its
    number, for tests that read the case page (tests/browser/test_visible_text.py)."""
    key = create_device(live_server, f"小北一路{uuid.uuid4().int % 10**6:06d}号巡检摄像头")
    return detect(live_server, key, "0.61", 600, algorithm="ALG17")["number"]
