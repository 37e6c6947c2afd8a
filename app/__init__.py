"""Application factory: config, extensions, blueprints, error handlers and CLI in one place."""

from __future__ import annotations

import importlib
from typing import Any

from flask import Flask
from werkzeug.middleware.proxy_fix import ProxyFix

from config import env_int, get_config


def create_app(config_name: str | None = None, overrides: dict[str, Any] | None = None) -> Flask:
    """Build the app for APP_ENV (or ``config_name``), with optional config overrides."""
    cfg = get_config(config_name)
    cfg.validate()
    app = Flask(__name__, instance_path=cfg.INSTANCE_DIR, instance_relative_config=False)
    app.config.from_object(cfg)
    app.json.ensure_ascii = False  # Chinese messages stay readable in JSON
    if overrides:
        app.config.update(overrides)

    # The factory imports the shell's modules when it runs, not when `app` is imported: the
    # models, extensions and CLI import `app.*` submodules and must not build an app.
    from app.logs import configure_logging

    configure_logging(app)
    from app import contenttype, security  # see above

    contenttype.init_app(app)
    security.init_app(app)
    proxies = env_int("PROXY_COUNT", 0)
    if proxies:
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=proxies, x_proto=proxies, x_host=proxies)

    register_extensions(app)
    register_blueprints(app)
    from app.db import apply_table_options  # see create_app
    from app.extensions import db

    apply_table_options(db.metadata)  # every model is known now, the features' too
    from app.errors import register_error_handlers  # see create_app

    register_error_handlers(app)
    from app import dbretry  # see create_app

    dbretry.init_app(app)
    register_cli(app)
    return app


def register_extensions(app: Flask) -> None:
    """Bind the extensions created in app.extensions."""
    # see create_app
    from app import dbsetup
    from app.db import install_transaction_hooks
    from app.extensions import api, csrf, db, limiter, migrate

    dbsetup.install_engine_hooks()
    db.init_app(app)
    install_transaction_hooks(app)  # after db: its teardown runs before the session is removed
    migrate.init_app(app, db, directory=str(dbsetup.MIGRATIONS_DIR))
    csrf.init_app(app)
    limiter.init_app(app)
    api.init_app(app)

    from app import models  # noqa: F401  (the shell's tables; features add theirs)


def register_blueprints(app: Flask) -> None:
    """Pages, APIs and WeChat endpoints. API blueprints go through flask-smorest for the spec."""
    # see create_app
    from app import apidocs, h5, health, metrics, pages
    from app.auth import api as auth_api
    from app.auth import console
    from app.extensions import api

    app.register_blueprint(health.bp)
    metrics.init_app(app)  # /metrics, request counts and latency, the features' gauges
    app.register_blueprint(apidocs.bp)
    app.register_blueprint(pages.bp)
    h5.init_app(app)
    app.register_blueprint(console.bp)
    from app import console as console_pages  # see create_app

    app.register_blueprint(console_pages.bp)
    # Browsers ask for these at the root whatever the page says.
    for icon in ("favicon.ico", "apple-touch-icon.png"):
        app.add_url_rule(f"/{icon}", icon, lambda icon=icon: app.send_static_file(icon))
    api.register_blueprint(auth_api.blp)

    from app import account, media, news, sms  # see create_app
    from app.geo import api as geo_api

    media.init_app(app)
    account.init_app(app)  # 我的数据与账号注销, `flask privacy`
    sms.init_app(app)  # the SMS gateway's emulator at /_sms, when SMS_EMULATOR
    geo_api.init_app(app)
    news.init_app(app)
    register_features(app)


def register_features(app: Flask) -> None:
    """Plug in the packages named in FEATURES (config.py), in order: each registers its own
    models, APIs, pages, commands, seed steps and worker tasks in its ``init_app``. The shell
    knows features only by these names, never by an import."""
    for name in app.config["FEATURES"]:
        importlib.import_module(name).init_app(app)


def register_cli(app: Flask) -> None:
    """flask users ..., flask seed ..."""
    from app import cli  # see create_app

    cli.register(app)
