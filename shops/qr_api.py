"""Staff API for plates: one shop's QR as PNG or SVG, and revoke-and-reissue of its code."""

from __future__ import annotations

import marshmallow as ma
from flask import Response
from flask.views import MethodView
from flask_smorest import Blueprint

from app import qr
from app.apispec import document_errors
from app.auth.current import staff_required
from app.auth.models import Role
from app.db import commit
from app.errors import NotFound
from shops import codes, service
from shops.models import Shop, ShopCode

blp = Blueprint("shops_qr", __name__, url_prefix="/api/v1/staff/shops",
                description="商户二维码（工作人员）")  # fmt: skip

IMAGE_DOC = {"200": {"description": "The plate QR image (encodes the plate URL)."}}


class ReissueIn(ma.Schema):
    """Why the plate is replaced (lost, damaged, moved ...)."""

    reason = ma.fields.String(required=True, validate=ma.validate.Length(min=1, max=200))
    replaces = ma.fields.String(
        validate=ma.validate.Length(max=16),
        metadata={
            "description": "The active code the caller saw. When given, the reissue happens only "
            "if it is still the active one (409 code_already_replaced otherwise), so a double "
            "click or two staff at once replace a plate once."
        },
    )


class CodeOut(ma.Schema):
    """A plate code and the URL its QR encodes."""

    code = ma.fields.String()
    url = ma.fields.String()
    status = ma.fields.String()
    issued_at = ma.fields.DateTime()
    replaced = ma.fields.List(ma.fields.String(), metadata={"description": "Codes revoked now"})


def _shop_and_code(shop_id: int, staff) -> tuple[Shop, ShopCode]:
    shop = service.shop_for_staff(shop_id, staff)  # 404, or 403 outside the account's districts
    code = codes.active_code(shop)
    if code is None:
        raise NotFound("该商户没有有效的二维码编号", code="no_active_code")
    return shop, code


def _image(data: bytes | str, mimetype: str, code: str, ext: str) -> Response:
    resp = Response(data, mimetype=mimetype)
    resp.headers["Content-Disposition"] = f'inline; filename="shop-{code}.{ext}"'
    resp.headers["Cache-Control"] = "private, no-cache"
    return resp


FORMATS = {  # extension: (mimetype, renderer)
    "png": ("image/png", qr.png_bytes),
    "svg": ("image/svg+xml", qr.svg_text),
}


@blp.route("/<int:shop_id>/qr.<any(png, svg):ext>")
class ShopQrImage(MethodView):
    @blp.doc(responses=IMAGE_DOC)
    @document_errors(blp, 401, 403, 404)
    @staff_required(Role.ADMIN, Role.DISPATCHER)
    def get(self, shop_id: int, ext: str, staff):
        """The shop's plate QR: PNG (10 px a module, quiet zone of 4) or SVG (vector, for print
        shops)."""
        _, code = _shop_and_code(shop_id, staff)
        mimetype, render = FORMATS[ext]
        return _image(render(qr.matrix(codes.plate_url(code.code))), mimetype, code.code, ext)


@blp.route("/<int:shop_id>/codes/reissue")
class ShopCodeReissue(MethodView):
    @staff_required(Role.ADMIN, Role.DISPATCHER)
    @blp.arguments(ReissueIn)
    @blp.response(200, CodeOut)
    @document_errors(blp, 401, 403, 404, 409, 422)
    def post(self, body, shop_id: int, staff):
        """Revoke the shop's plate code and issue a new one (the old one answers "replaced").
        409 if the shop is closed, or if ``replaces`` is no longer the active code. Concurrent
        reissues of one shop run one after the other. Audited."""
        shop = service.shop_for_staff(shop_id, staff)
        new = codes.revoke_and_reissue(shop, body["reason"], staff, replaces=body.get("replaces"))
        replaced = codes.replaced_codes(new)
        commit()
        return {
            "code": new.code,
            "url": codes.plate_url(new.code),
            "status": new.status.value,
            "issued_at": new.issued_at,
            "replaced": replaced,
        }
