"""flask wechat ... commands: push the public account's menu."""

from __future__ import annotations

import click
from flask import Flask
from flask.cli import AppGroup

from app.db import commit
from wechat import menus, service

wechat_cli = AppGroup("wechat", help="WeChat: the public account's menu.")


@wechat_cli.command("push-menu")
def push_menu() -> None:
    """Push the stored public-account menu (the default one if none was saved) to WeChat."""
    try:
        state = menus.push(None, label="命令行")
    except service.WeChatError as exc:
        commit()  # the audit row of the refused push
        raise click.ClickException(exc.message) from None
    commit()
    names = "、".join(b["name"] for b in state["button"])
    click.echo(f"菜单已推送到微信：{names}")


def register(app: Flask) -> None:
    """Attach the commands (``flask wechat``; a group of that name already there is extended)."""
    group = app.cli.commands.get("wechat")
    if isinstance(group, click.Group) and group is not wechat_cli:
        group.add_command(push_menu)
    else:
        app.cli.add_command(wechat_cli)
