"""The public H5 map of cases (身边案件): open and recently closed cases around the citizen, with
"我也遇到了". Anyone may look; following asks for the public-account sign-in. The page reads the
public case API (``reports.public_api``) from its script, so it shows what the API would answer.

Also the public account's follow QR code (``/h5/follow-qr.png`` and ``.svg``), shown after a
report is filed (接收办理进展): it encodes ``wechat.subscriptions.follow_url()``; no sign-in.
"""

from __future__ import annotations

import hashlib
import io
from functools import lru_cache

import qrcode
from flask import Blueprint, Flask, Response, current_app, render_template, request, url_for

from app.auth.current import current_citizen
from app.errors import NotFound
from app.extensions import limiter
from app.geo import regions
from app.ratelimits import public_limit
from reports import follows
from reports.pages import h5_map_config
from wechat import subscriptions

bp = Blueprint("reports_public_pages", __name__, template_folder="templates")

# Where maps open while the city has no regions yet (a fresh install before the seed).
FALLBACK_CENTRE = (41.80, 123.43)


@bp.get("/h5/cases/map")
@limiter.limit(public_limit)
def cases_map():
    """身边案件: a map and a list of the cases near the citizen (or the city centre)."""
    citizen = current_citizen()
    config = {
        "map": h5_map_config(),
        "centre": list(regions.city_centre() or FALLBACK_CENTRE),
        "nearbyUrl": url_for("reports_public.NearbyCases"),
        "signedIn": citizen is not None,
        "closedDays": int(current_app.config["PUBLIC_CLOSED_DAYS"]),
        "maxRadius": follows.MAX_RADIUS_M,
    }
    return render_template("reports/h5/cases_map.html", config=config,
                           closed_days=config["closedDays"])  # fmt: skip


# ---------------------------------------------------------------- the follow QR code

QR_SCALE = 8  # pixels a module in the PNG (WeChat's long-press recognises a PNG, not an SVG)
QR_BORDER = 4  # the quiet zone, in modules
QR_MAX_AGE = 24 * 3600  # the case page's link names the URL's version: a new URL, a new link
NO_FOLLOW_QR = "未配置公众号关注二维码"


@lru_cache(maxsize=8)
def follow_qr(url: str, ext: str) -> bytes:
    """The QR code of ``url``: a 1-bit PNG, or an SVG of one path (module units, white ground).
    Kept per process: the configured URL rarely changes."""
    code = qrcode.QRCode(error_correction=qrcode.constants.ERROR_CORRECT_M, border=QR_BORDER,
                         box_size=QR_SCALE)  # fmt: skip
    code.add_data(url)
    code.make(fit=True)
    if ext == "png":
        buf = io.BytesIO()
        code.make_image().save(buf, format="PNG")
        return buf.getvalue()
    rows = code.get_matrix()  # with the quiet zone
    side = len(rows)
    path = []
    for y, row in enumerate(rows):
        x = 0
        while x < side:
            if not row[x]:
                x += 1
                continue
            start = x
            while x < side and row[x]:
                x += 1
            path.append(f"M{start} {y}h{x - start}v1h-{x - start}z")
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {side} {side}" '
        f'width="{side * QR_SCALE}" height="{side * QR_SCALE}" shape-rendering="crispEdges">'
        f'<rect width="{side}" height="{side}" fill="#fff"/>'
        f'<path fill="#000" d="{"".join(path)}"/></svg>\n'
    ).encode()


@bp.get("/h5/follow-qr.<any(png, svg):ext>")
@limiter.limit(public_limit)
def follow_qr_image(ext: str):
    """The public account's follow QR code (404 when no follow link is configured)."""
    url = subscriptions.follow_url()
    if not url:
        raise NotFound(NO_FOLLOW_QR, code="no_follow_qr")
    body = follow_qr(url, ext)
    resp = Response(body, mimetype="image/png" if ext == "png" else "image/svg+xml")
    resp.set_etag(hashlib.sha256(body).hexdigest()[:16])
    resp.cache_control.public = True
    resp.cache_control.max_age = QR_MAX_AGE
    return resp.make_conditional(request)


def init_app(app: Flask) -> None:
    """Register the pages."""
    app.register_blueprint(bp)
