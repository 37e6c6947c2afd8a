"""POST /wechat/pay/transfer-notify: WeChat Pay's MCHTRANSFER.BILL.FINISHED notifications.

The raw body is verified and decrypted, then handed to the handler a feature registered with
:func:`on_transfer_finished` (wechat/ never imports features). The handler flushes; this view
commits once. WeChat waits 5 s and retries anything but a 2xx, and the same notification may come
more than once, so handlers must be idempotent. The answer shapes are the ones WeChat expects:
an empty 204 on success, ``{"code": "FAIL", "message": ...}`` with a 4xx/5xx otherwise.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from flask import Blueprint, Flask, Response, current_app, jsonify, request

from app.db import commit
from app.extensions import csrf, db, limiter
from wechat.pay.client import TransferClient, settings_from_config
from wechat.pay.errors import CallbackRejected

log = logging.getLogger(__name__)

bp = Blueprint("wechat_pay", __name__, url_prefix="/wechat/pay")

# Real notifications are about 1 KB.
MAX_BODY_BYTES = 64 * 1024

TransferHandler = Callable[[dict[str, Any]], None]
_handlers: dict[str, TransferHandler] = {}


def on_transfer_finished(handler: TransferHandler) -> TransferHandler:
    """Register the callable that applies a finished bill (the decrypted resource dict).

    One handler per process; registering again replaces it. Usable as a decorator.
    """
    _handlers["transfer_finished"] = handler
    return handler


def transfer_client(app: Flask | None = None) -> TransferClient:
    """The app's TransferClient, built once per distinct configuration and reused."""
    app = app or current_app._get_current_object()  # type: ignore[attr-defined]
    settings = settings_from_config(app.config)
    cached = app.extensions.get("wechatpay_client")
    if cached is None or cached.settings != settings:
        cached = TransferClient(settings)
        app.extensions["wechatpay_client"] = cached
    return cached


def _fail(status: int, code: str, message: str) -> tuple[Response, int]:
    return jsonify({"code": code, "message": message}), status


@bp.post("/transfer-notify")
def transfer_notify():
    """Verify, decrypt and apply one notification; 204 when applied (or already applied)."""
    if (request.content_length or 0) > MAX_BODY_BYTES:
        return _fail(413, "FAIL", "请求体过大")
    body = request.stream.read(MAX_BODY_BYTES + 1)
    if len(body) > MAX_BODY_BYTES:
        return _fail(413, "FAIL", "请求体过大")
    try:
        resource = transfer_client().verify_callback(request.headers, body)
    except CallbackRejected as exc:
        log.warning("wechatpay notification refused: %s", exc.reason)
        return _fail(401, "SIGN_ERROR", "签名验证失败")
    handler = _handlers.get("transfer_finished")
    if handler is None:
        log.error(
            "wechatpay notification for %s but no handler is registered", resource["out_bill_no"]
        )
        return _fail(500, "FAIL", "未注册处理程序，请稍后重试")
    try:
        handler(resource)
        commit()
    except Exception:
        db.session.rollback()
        log.exception("wechatpay notification for %s failed", resource["out_bill_no"])
        return _fail(500, "FAIL", "处理失败，请稍后重试")
    return Response(status=204)


def init_app(app: Flask) -> None:
    """Register the notification endpoint: called by WeChat's servers, so no CSRF and no rate
    limit (a payout run sends thousands from a few WeChat addresses; forgeries cost one RSA
    verification each and change nothing)."""
    csrf.exempt(bp)
    limiter.exempt(bp)
    app.register_blueprint(bp)
