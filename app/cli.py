"""flask users create-staff, flask seed demo (each feature adds its seed steps), flask urls."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import click
from flask import Flask, current_app
from flask.cli import AppGroup
from sqlalchemy import select

from app import backup
from app.auth import service
from app.auth.models import Role, StaffUser
from app.db import commit
from app.errors import ValidationFailed
from app.extensions import db
from app.news.service import seed_demo_news

users_cli = AppGroup("users", help="Staff accounts.")
seed_cli = AppGroup("seed", help="Demo data.")

# The demo city is Shenyang: its organisation, regions and demo points live in reports/seed.py.
# Staff scopes use department codes from there: SY (city-wide bureau), SY-<adcode> (district
# 城管局), SY-210106-HX (滑翔街道办事处).
DEMO_CITY = "沈阳市"
DEMO_PASSWORD = "zhcg-demo-2026"  # noqa: S105 - demo only; `seed demo` refuses production
DEMO_STAFF = [
    ("admin", "系统管理员", [Role.ADMIN], None),
    ("dispatcher", "市级派遣员", [Role.DISPATCHER], None),
    ("tiexi_handler", "铁西区处置员", [Role.HANDLER], "SY-210106"),
    ("heping_handler", "和平区处置员", [Role.HANDLER], "SY-210102"),
    ("reviewer", "审核员", [Role.REVIEWER], None),
    ("finance", "财务人员", [Role.FINANCE], None),
    ("finance2", "财务复核员", [Role.FINANCE], None),  # releases what "finance" prepares
    ("inspector", "城市管理监督员", [Role.INSPECTOR], None),
    ("huaxiang_handler", "滑翔街道处置员", [Role.HANDLER], "SY-210106-HX"),
]


@users_cli.command("create-staff")
@click.argument("username")
@click.option(
    "--role", "roles", multiple=True, required=True, type=click.Choice([r.value for r in Role])
)
@click.option("--department", "department_code", help="Department code (omit for city-wide).")
@click.option("--display-name", help="Name shown in the console.")
@click.option("--phone")
@click.password_option(prompt="Password", help="At least 10 characters (prompted if omitted).")
def create_staff_command(username, roles, department_code, display_name, phone, password):
    """Create a staff account."""
    try:
        staff = service.create_staff(
            username,
            password,
            list(roles),
            display_name=display_name,
            department_code=department_code,
            phone=phone,
        )
    except ValidationFailed as exc:
        for field, messages in (exc.fields or {}).items():
            click.echo(f"error: {field}: {'; '.join(messages)}", err=True)
        raise SystemExit(2) from None
    commit()
    click.echo(f"created staff {staff.username} (id {staff.id}) roles={','.join(sorted(roles))}")


@dataclass(frozen=True)
class SeedOptions:
    """What ``flask seed demo`` was asked for; each step reads what concerns it."""

    shops: int | None = None  # generated shops (None: the city's real count)
    facility_scale: float = 1.0  # share of the generated demo facilities
    littering: int | None = None  # demo 车窗抛物 reports (None: the feature's default, 300)


SeedStep = Callable[[SeedOptions], bool | None]


def add_seed_step(app: Flask, order: int, step: SeedStep) -> None:
    """Let a feature seed its part of the demo city; steps run by ``order`` (10: departments,
    regions and categories; 20: shops; 30: facilities; 40: staff accounts; 50: news; 60 and
    later: what needs the staff). A step returns True if it created a demo staff account."""
    app.extensions.setdefault("seed_steps", []).append((order, step))


def seed_demo_city(
    shops: int | None = None, facility_scale: float = 1.0, littering: int | None = None
) -> bool:
    """Seed (upsert) the demo city through every feature's seed step: reference data, the
    GENERATED demo shops and facilities (once; ``shops`` and ``facility_scale`` size them), the
    demo staff accounts that do not exist yet and (once) the demo notices and rewards; True if
    any account was created."""
    options = SeedOptions(shops, facility_scale, littering)
    steps = sorted(current_app.extensions.get("seed_steps", []), key=lambda item: item[0])
    created = False
    for _order, step in steps:
        created = bool(step(options)) or created
        db.session.flush()
    return created


def seed_demo_staff(_options: SeedOptions) -> bool:
    """Create the demo staff accounts that do not exist yet; True if any was created."""
    created = False
    for username, display, roles, dept_code in DEMO_STAFF:
        if db.session.scalar(select(StaffUser.id).where(StaffUser.username == username)):
            continue
        service.create_staff(
            username,
            DEMO_PASSWORD,
            [r.value for r in roles],
            display_name=display,
            department_code=dept_code,
            actor_label="seed",
        )
        created = True
    return created


def seed_demo_notices(_options: SeedOptions) -> None:
    """Three demo notices (once), published by the admin."""
    seed_demo_news(db.session.scalar(select(StaffUser).where(StaffUser.username == "admin")))


@seed_cli.command("demo")
@click.option(
    "--shops",
    type=click.IntRange(0),
    default=None,
    help="generated shops (default: Shenyang's 50,366)",
)
@click.option(
    "--facility-scale",
    type=click.FloatRange(0, 10),
    default=1.0,
    help="share of the generated demo facilities (default 1: about 6,850)",
)
@click.option(
    "--littering",
    type=click.IntRange(0),
    default=None,
    help="demo 车窗抛物 reports with their reviews and rewards (default 300)",
)
def seed_demo_command(shops, facility_scale, littering):
    """Seed the demo city (idempotent: upserts reference data, creates missing accounts)."""
    if current_app.config["ENV_NAME"] == "production":
        raise click.ClickException("refusing to seed demo accounts in production")
    seeded = seed_demo_city(shops, facility_scale, littering)
    commit()
    click.echo(
        "demo city seeded"
        if seeded
        else "demo staff already exist; staff seed skipped (reference data and regions refreshed)"
    )
    click.echo(f"demo staff logins (password {DEMO_PASSWORD}):")
    for username, display, roles, dept_code in DEMO_STAFF:
        scope = dept_code or "全市"
        click.echo(f"  {username:<16} {display}  [{','.join(r.value for r in roles)}] {scope}")


def register(app: Flask) -> None:
    """Attach the command groups and the shell's seed steps."""
    app.cli.add_command(users_cli)
    app.cli.add_command(seed_cli)
    register_urls_command(app)
    backup.register(app)
    add_seed_step(app, 40, seed_demo_staff)
    add_seed_step(app, 50, seed_demo_notices)


def register_urls_command(app: Flask) -> None:
    """flask urls: where things are, printed by `make run`."""

    @app.cli.command("urls")
    def urls_command():
        """Print the service's main URLs."""
        base = current_app.config["PUBLIC_BASE_URL"]
        click.echo("")
        click.echo("智慧城管 is starting:")
        click.echo(f"  citizen pages (public-account H5): {base}/h5/")
        click.echo(f"  nearby toilets, parks, parking:    {base}/nearby")
        click.echo(f"  车窗抛物 report (H5):              {base}/h5/littering/new")
        click.echo(f"  staff console:                     {base}/console/")
        click.echo(f"  rewards review / payouts:          {base}/console/littering/reports")
        click.echo(f"  API docs:                          {base}/api/docs")
        click.echo(f"  health:                            {base}/healthz")
        if current_app.config["WECHAT_EMULATOR"]:
            click.echo(f"  WeChat emulator:                   {base}/_wechat/")
            click.echo(f"  WeChat Pay emulator:               {base}/_wechatpay/_emulator/bills")
            click.echo(
                "  demo citizen sign-in: POST /api/v1/auth/miniprogram "
                '{"code": "test:demo-citizen"}'
            )
        click.echo("")
