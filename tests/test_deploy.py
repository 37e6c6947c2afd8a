"""deploy/ stays in step with the code: the env file example lists every setting the code reads,
the systemd units start commands that exist, HAProxy's variables are documented, and every table
has a primary key (Galera replicates rows by key; docs/scale.md). `make cluster-test` runs the
same files for real."""

from __future__ import annotations

import re
import shlex
import shutil
import subprocess
from pathlib import Path

import click
import pytest

from app.extensions import db

ROOT = Path(__file__).resolve().parents[1]
DEPLOY = ROOT / "deploy"
INSTALL_DIR = "/opt/zhcg"  # where the units expect the checkout (docs/scale.md)
SOURCES = [
    "config.py",
    "gunicorn.conf.py",
    "wsgi.py",
    "app",
    "wechat",
    "reports",
    "shops",
    "services_nearby",
]
TEST_ONLY = {"TEST_DATABASE_URL"}  # read by TestingConfig only
READS = re.compile(
    r"""(?:env_(?:str|int|bool)\(\s*|os\.environ\.get\(\s*|os\.getenv\(\s*|MULTIPROC_ENV = )"""
    r"""["']([A-Z][A-Z0-9_]+)["']"""
)


def settings_read_by_code() -> set[str]:
    """Every environment variable the product's code reads by name."""
    names: set[str] = set()
    for source in SOURCES:
        path = ROOT / source
        for file in [path] if path.is_file() else path.rglob("*.py"):
            names |= set(READS.findall(file.read_text(encoding="utf-8")))
    return names


def settings_in_example() -> set[str]:
    """Names set (NAME=) or shown with their default (# NAME=) in deploy/zhcg.env.example."""
    text = (DEPLOY / "zhcg.env.example").read_text(encoding="utf-8")
    return set(re.findall(r"^(?:# )?([A-Z][A-Z0-9_]+)=", text, re.MULTILINE))


def unit(name: str) -> dict[str, list[str]]:
    """A systemd unit's keys (every section) with their values, in order."""
    keys: dict[str, list[str]] = {}
    for line in (DEPLOY / name).read_text(encoding="utf-8").splitlines():
        if "=" in line and not line.startswith(("#", "[")):
            key, value = line.split("=", 1)
            keys.setdefault(key.strip(), []).append(value.strip())
    return keys


def test_the_env_example_lists_every_setting_the_code_reads():
    read = settings_read_by_code()
    # the scan works:
    assert {"DATABASE_URL", "SECRET_KEY", "PROXY_COUNT", "WEB_CONCURRENCY"} <= read
    missing = read - settings_in_example() - TEST_ONLY
    assert not missing, f"add to deploy/zhcg.env.example: {sorted(missing)}"
    unknown = settings_in_example() - read - {"FLASK_APP"}
    assert not unknown, f"deploy/zhcg.env.example names settings nothing reads: {sorted(unknown)}"


def test_the_env_example_sets_what_production_requires():
    text = (DEPLOY / "zhcg.env.example").read_text(encoding="utf-8")
    set_names = set(re.findall(r"^([A-Z][A-Z0-9_]+)=", text, re.MULTILINE))
    assert {
        "APP_ENV",
        "SECRET_KEY",
        "DATABASE_URL",
        "REDIS_URL",
        "STORAGE_BACKEND",
        "S3_BUCKET",
        "WECHAT_MINI_APP_SECRET",
        "WECHAT_MP_TOKEN",
        "PUBLIC_BASE_URL",
    } <= set_names
    assert re.search(r"^STORAGE_BACKEND=s3$", text, re.MULTILINE)  # nodes share no disk
    assert re.search(r"^WECHAT_EMULATOR=0$", text, re.MULTILINE)


@pytest.mark.parametrize(
    ("name", "command"),
    [
        ("zhcg-web.service", None),
        ("zhcg-worker.service", ("worker",)),
        ("zhcg-purge.service", ("privacy", "purge")),
    ],
)
def test_the_units_start_commands_that_exist(app, name, command):
    keys = unit(name)
    assert keys["WorkingDirectory"] == [INSTALL_DIR]
    assert keys["EnvironmentFile"] == ["/etc/zhcg/zhcg.env"]
    argv = shlex.split(keys["ExecStart"][0].replace(INSTALL_DIR, str(ROOT)))
    assert Path(argv[0]).name in {"gunicorn", "flask"}
    assert (ROOT / ".venv" / "bin" / Path(argv[0]).name).exists()
    if command is None:  # gunicorn -c gunicorn.conf.py wsgi:app
        assert Path(argv[argv.index("-c") + 1]).is_file()
        assert argv[-1] == "wsgi:app" and (ROOT / "wsgi.py").is_file()
        return
    assert argv[1:] == list(command)
    group: click.Command = app.cli
    with click.Context(group) as ctx:
        for part in command:
            group = group.get_command(ctx, part)
            assert group is not None, f"{name}: no `flask {' '.join(command)}`"


def test_the_timer_starts_the_purge_nightly():
    keys = unit("zhcg-purge.timer")
    assert keys["Unit"] == ["zhcg-purge.service"]
    assert keys["OnCalendar"] == ["*-*-* 03:30:00 Asia/Shanghai"]


def test_haproxy_reads_only_documented_variables_and_checks_readiness(app):
    text = (DEPLOY / "haproxy.cfg").read_text(encoding="utf-8")
    header = "\n".join(line for line in text.splitlines() if line.startswith("#"))
    body = "\n".join(line for line in text.splitlines() if not line.lstrip().startswith("#"))
    used = set(re.findall(r'"\$\{([A-Z0-9_]+)\}"', body))
    assert used >= {"ZHCG_HTTP_BIND", "ZHCG_WEB1", "ZHCG_DB_BIND", "ZHCG_DB1"}
    # ZHCG_DB1..ZHCG_DB3, ZHCG_DB1_CHECK_PORT..ZHCG_DB3_CHECK_PORT
    documented = set(re.findall(r"ZHCG_[A-Z0-9_]+", header)) | {"ZHCG_DB2", "ZHCG_DB2_CHECK_PORT"}
    assert used <= documented and "ZHCG_DB1..ZHCG_DB3" in header, used - documented
    assert "option httpchk GET /readyz" in text
    assert any(rule.rule == "/readyz" for rule in app.url_map.iter_rules())
    # One write node: every Galera server but the first is a backup.
    db_servers = re.findall(r"^\s*server (db\d) .*$", text, re.MULTILINE)
    backups = re.findall(r"^\s*server (db\d) .* backup$", text, re.MULTILINE)
    assert db_servers[1:] == backups and db_servers[0] not in backups


@pytest.mark.skipif(shutil.which("haproxy") is None, reason="haproxy is not installed")
def test_haproxy_accepts_the_configuration(tmp_path):
    env = {
        f"ZHCG_{name}": f"127.0.0.1:{port}"
        for name, port in [
            ("HTTP_BIND", 18080),
            ("WEB1", 18001),
            ("WEB2", 18002),
            ("DB_BIND", 13307),
            ("DB1", 13306),
            ("DB2", 13316),
            ("DB3", 13326),
        ]
    }
    env |= {f"ZHCG_DB{i}_CHECK_PORT": str(19200 + i) for i in (1, 2, 3)}
    env["ZHCG_HAPROXY_SOCKET"] = str(tmp_path / "haproxy.sock")
    result = subprocess.run(
        [shutil.which("haproxy"), "-c", "-f", str(DEPLOY / "haproxy.cfg")],
        env=env,
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_every_table_has_a_primary_key(app):
    """Galera certifies and applies row events by primary key; a table without one is refused
    by the cluster test's nodes (wsrep_mode=REQUIRED_PRIMARY_KEY) and is slow to replicate."""
    assert len(db.metadata.tables) > 50  # every feature's models are loaded
    without = sorted(name for name, table in db.metadata.tables.items() if not table.primary_key)
    assert not without, f"tables without a primary key: {without}"


def test_the_galera_check_passes_only_a_synced_primary_writable_node():
    """deploy/galera_check.py's verdicts; the cluster test runs it against real nodes (a desynced
    writer leaves HAProxy's rotation while it still accepts logins)."""
    check = _load_galera_check()
    synced = {"wsrep_local_state": "4", "wsrep_ready": "ON", "wsrep_cluster_status": "Primary"}
    assert check.judge(synced, "0") == (200, "synced")
    assert check.judge(synced | {"wsrep_local_state": "2"}, "0") == (
        503,
        "not synced: Donor/Desynced",
    )
    assert check.judge(synced | {"wsrep_local_state": "1"}, "0")[1] == "not synced: Joining"
    assert check.judge(synced | {"wsrep_ready": "OFF"}, "0")[0] == 503
    assert check.judge(synced | {"wsrep_cluster_status": "non-Primary"}, "0")[0] == 503
    assert check.judge(synced, "1") == (503, "read-only")
    assert check.judge({}, "0") == (503, "not a Galera node (wsrep is off)")


def test_the_galera_check_answers_http_from_a_real_server(app, is_mariadb):
    """Against the suite's database server: MariaDB without wsrep is refused (503) over HTTP;
    with SQLite the server is unreachable and the check says so (503), never 200."""
    import threading  # only this test serves HTTP

    import requests

    check = _load_galera_check()
    url = app.config["SQLALCHEMY_DATABASE_URI"]
    connect = {"host": "127.0.0.1", "port": 3306, "user": "root"} if is_mariadb else {
        "host": "127.0.0.1", "port": 1, "user": "nobody"}  # fmt: skip
    assert is_mariadb == url.startswith("mysql")
    server = check.serve("127.0.0.1", 0, check.Node(connect))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        resp = requests.get(f"http://127.0.0.1:{server.server_address[1]}/", timeout=10)
    finally:
        server.shutdown()
    assert resp.status_code == 503
    expected = "not a Galera node" if is_mariadb else "cannot read the node's state"
    assert expected in resp.text


def _load_galera_check():
    import importlib.util  # deploy/ is not a package: the script runs on database hosts

    spec = importlib.util.spec_from_file_location("galera_check", DEPLOY / "galera_check.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module
