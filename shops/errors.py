"""What a scanned plate code can answer besides the shop: typed errors, mapped to HTTP by
app.errors (the page renders them as its error pages)."""

from __future__ import annotations

from app.errors import AppError, Forbidden, NotFound


class ShopCodeUnknown(NotFound):
    """No plate carries this code."""

    code, message = "shop_code_unknown", "未找到该店铺二维码"


class ShopCodeReplaced(AppError):
    """The plate was replaced (revoked and reissued): the old code never shows the shop."""

    status, code, message = 410, "shop_code_replaced", "该二维码已更换，请扫描店铺最新二维码"


class ShopSuspended(Forbidden):
    """The shop is suspended: it may trade again, so 403 rather than 410."""

    code, message = "shop_suspended", "该店铺已暂停营业"


class ShopClosed(AppError):
    """The shop has closed for good."""

    status, code, message = 410, "shop_closed", "该店铺已关闭"
