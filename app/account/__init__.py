"""A citizen's own data and account (PIPL): see everything the app holds ("我的数据"), download it,
delete the account ("账号注销"); and `flask privacy ...` (the retention purge, public copies).

The work is done by ``app.privacy`` (which runs every feature's registered steps) and
``app.media.privacy``; this package is the API, the H5 page and the commands around them.
"""

from __future__ import annotations

from flask import Flask


def init_app(app: Flask) -> None:
    """Register the citizen API, the H5 page and the `flask privacy` commands."""
    # Imported when an app is built, not when the package is: importing a package stays
    # free of blueprints and cycles.
    from app.account import api, cli, pages
    from app.extensions import api as smorest_api

    smorest_api.register_blueprint(api.blp)
    app.register_blueprint(pages.bp)
    app.cli.add_command(cli.privacy_cli)
