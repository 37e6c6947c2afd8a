"""Console pages of the public account (admins): the custom menu editor and the keyword
replies. The scripts read and write through /api/v1/admin/wechat, which checks the role again."""

from __future__ import annotations

from flask import Blueprint, Flask, current_app, url_for

from app.auth.models import Role, StaffUser
from app.console import nav_item, render, staff_page
from wechat import keywords, menus

bp = Blueprint("wechat_mp_pages", __name__, template_folder="templates",
               static_folder="static/wechat", static_url_path="/static/wechat")  # fmt: skip
ADMIN = (Role.ADMIN,)


@nav_item("公众号菜单", ADMIN, order=85, endpoint="wechat_mp_pages.menu_page")
@bp.get("/console/wechat/menu")
@staff_page(*ADMIN)
def menu_page(staff: StaffUser):
    """Edit the menu (up to 3 menus of up to 5 sub-buttons), save it, push it to WeChat."""
    config = {
        "menu": url_for("wechat_mp_admin.Menu"),
        "push": url_for("wechat_mp_admin.MenuPush"),
        "types": {k: label for k, (label, _) in menus.TYPES.items()},
        "required": {k: list(fields) for k, (_, fields) in menus.TYPES.items()},
        "limits": {"buttons": menus.MAX_BUTTONS, "subButtons": menus.MAX_SUB_BUTTONS,
                   "name": menus.NAME_BYTES, "subName": menus.SUB_NAME_BYTES,
                   "key": menus.KEY_BYTES, "url": menus.URL_BYTES},
        "base": current_app.config["PUBLIC_BASE_URL"],
    }  # fmt: skip
    return render("wechat/console/menu.html", staff, config=config, state=menus.current())


@nav_item("关键词回复", ADMIN, order=86, endpoint="wechat_mp_pages.keywords_page")
@bp.get("/console/wechat/keywords")
@staff_page(*ADMIN)
def keywords_page(staff: StaffUser):
    """The keyword replies: add, edit, switch off, remove."""
    config = {"api": url_for("wechat_mp_admin.Keywords"), "matches": keywords.MATCHES}
    return render("wechat/console/keywords.html", staff, config=config,
                  items=[keywords.view(k) for k in keywords.all_keywords()],
                  matches=list(keywords.MATCHES.items()), keyword_max=keywords.KEYWORD_MAX,
                  reply_max=keywords.REPLY_MAX)  # fmt: skip


def init_app(app: Flask) -> None:
    app.register_blueprint(bp)
