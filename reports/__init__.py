"""Citizen problem reports and the case workflow (受理 立案 派遣 处置 核查 结案)."""

from __future__ import annotations

from flask import Flask
from sqlalchemy import func, select

from app.cli import SeedOptions, add_seed_step
from app.h5 import HomeEntry, add_home_entries
from app.metrics import add_gauge


def home_entries() -> list[HomeEntry]:
    """随手拍 on the citizen home and tab bar, 我的上报 and 身边案件."""
    return [
        HomeEntry("hero", "report", "随手拍 · 我要上报", "reports_pages.report_form", icon="拍",
                  text="井盖破损、暴露垃圾、占道经营……拍照即可上报"),
        HomeEntry("grid", "mine", "我的上报", "reports_pages.my_reports", order=10, icon="我"),
        HomeEntry("grid", "cases_map", "身边案件", "reports_public_pages.cases_map", order=15,
                  icon="案", tone="blue"),
        HomeEntry("tab", "report", "上报", "reports_pages.report_form", order=10,
                  icon="M4 7h3l2-3h6l2 3h3v13H4zM12 17a4 4 0 1 0 0-8 4 4 0 0 0 0 8z"),
        HomeEntry("tab", "mine", "我的", "reports_pages.my_reports", order=20,
                  icon="M12 12a4.5 4.5 0 1 0 0-9 4.5 4.5 0 0 0 0 9zM3 21c0-4.4 4-7 9-7s9 2.6 9 7z"),
    ]  # fmt: skip


def seed_demo(_options: SeedOptions) -> None:
    """Demo seed step: departments, regions, categories and the working calendar."""
    from reports.seed import seed_demo as seed_reference  # see init_app

    seed_reference()


def init_app(app: Flask) -> None:
    """Register the report APIs, pages and commands."""
    # Imported when an app is built, not when the package is: importing a package stays
    # free of blueprints and cycles.
    from app.extensions import api
    from reports import (
        admin_api,
        cli,
        detection_api,
        detection_pages,
        export,
        heat,
        ingest_api,
        notify_api,
        pages,
        public_api,
        public_pages,
        staff_api,
        stats_api,
    )
    from reports import api as citizen_api  # here, as above
    from reports.models import OutboxMessage, OutboxStatus

    for module in (citizen_api, public_api, staff_api, export, ingest_api, stats_api, heat,
                   admin_api, notify_api, detection_api):  # fmt: skip
        api.register_blueprint(module.blp)
    # PIPL (app/privacy.py): export, erasure, retention, and blurred public copies of photos;
    # imported here for the reason above
    from app.media.privacy import publish_pending
    from app.privacy import add_personal_data, add_retention
    from reports import privacy
    from reports.notify import add_worker_task

    add_personal_data(app, "reports", export=privacy.export, erase=privacy.erase,
                      label="问题上报、关注与消息订阅")  # fmt: skip
    add_retention(app, "reports", purge=privacy.purge)
    privacy.register()  # report photos get a blurred public copy (the worker makes it)
    add_worker_task(app, publish_pending)
    pages.init_app(app)
    detection_pages.init_app(app)  # 路长慧眼: the algorithm editor and the precision panel
    public_pages.init_app(app)
    cli.register(app)
    add_seed_step(app, 10, seed_demo)
    add_home_entries(app, home_entries)
    add_gauge(app, "zhcg_outbox_pending", "Outbox messages waiting for delivery",
              select(func.count()).where(OutboxMessage.status == OutboxStatus.PENDING))  # fmt: skip
    from reports import littering  # see above

    littering.init_app(app)
    from reports import smallads  # see above

    smallads.init_app(app)
    from reports import mp_chat  # see above: reporting in the public account's chat

    mp_chat.init_app(app)
    from reports import opinion  # see above

    opinion.init_app(app)
    from reports import hotline  # see above: 12345 work orders

    hotline.init_app(app)
    from reports import consultations  # see above: 问需·问计·问效 project consultations

    consultations.init_app(app)
    from reports import open311  # see above: the Open311 GeoReport v2 interface

    open311.init_app(app)
    from reports import showcase  # see above: 文明行为展示

    showcase.init_app(app)
