"""WeChat operations used by the rest of the app (to be built)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class MiniSession:
    """What sns/jscode2session tells us. session_key never leaves the server."""

    app_id: str
    openid: str
    unionid: str | None
    session_key: str


def miniprogram_code_to_session(code: str) -> MiniSession:
    """Exchange a wx.login() code (to be built)."""
    raise NotImplementedError
