"""The parts of the cluster test, each a real process on 127.0.0.1 started from deploy/'s files:
a 3-node MariaDB Galera cluster (Debian's mariadbd with galera-4), Redis, moto's S3 server,
HAProxy with deploy/haproxy.cfg, app nodes from deploy/zhcg-web.service's ExecStart and workers
from deploy/zhcg-worker.service's, all with deploy/zhcg.env.example as their environment."""

from __future__ import annotations

import io
import os
import random
import re
import shlex
import shutil
import signal
import socket
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path

import pymysql
import requests
from PIL import Image

ROOT = Path(__file__).resolve().parents[2]
DEPLOY = ROOT / "deploy"
BIN = ROOT / ".venv" / "bin"
INSTALL_DIR = "/opt/zhcg"
GALERA = "/usr/lib/galera/libgalera_smm.so"
HOST = "127.0.0.1"
DB_USER, DB_PASSWORD = "zhcg", "cluster-test-password"


def port_free(port: int) -> bool:
    with socket.socket() as sock:
        # As the servers bind (SO_REUSEADDR): connections of an earlier run in TIME-WAIT are fine.
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((HOST, port))
        except OSError:
            return False
        return True


class Died(RuntimeError):
    """A process the check waits for has exited: waiting longer cannot help."""


def wait_for(check, timeout: float, what: str, interval: float = 0.2):
    """Call ``check`` until it returns something truthy; fail with ``what`` after ``timeout``."""
    deadline = time.monotonic() + timeout
    last: BaseException | None = None
    while time.monotonic() < deadline:
        try:
            result = check()
            if result:
                return result
        except Died:
            raise
        except Exception as exc:  # noqa: BLE001 - the thing is still starting
            last = exc
        time.sleep(interval)
    raise TimeoutError(f"{what} not ready after {timeout:.0f} s (last error: {last!r})")


@dataclass
class Proc:
    """A process group started by the test, with its log file."""

    name: str
    argv: list[str]
    log: Path
    env: dict[str, str] | None = None
    cwd: Path = ROOT
    popen: subprocess.Popen | None = None

    def start(self) -> Proc:
        with open(self.log, "ab") as out:
            self.popen = subprocess.Popen(
                self.argv,
                cwd=self.cwd,
                env=self.env,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        return self

    def alive(self) -> bool:
        return self.popen is not None and self.popen.poll() is None

    def signal(self, sig: int) -> None:
        """Send ``sig`` to the whole group (gunicorn's master and its workers)."""
        if self.popen is not None and self.popen.poll() is None:
            os.killpg(self.popen.pid, sig)

    def stop(self, timeout: float = 15) -> None:
        if self.popen is None or self.popen.poll() is not None:
            return
        self.signal(signal.SIGTERM)
        try:
            self.popen.wait(timeout)
        except subprocess.TimeoutExpired:
            self.signal(signal.SIGKILL)
            self.popen.wait(10)

    def kill9(self) -> None:
        self.signal(signal.SIGKILL)
        if self.popen is not None:
            self.popen.wait(10)


# ------------------------------------------------------------------------------------ Galera


@dataclass
class GaleraNode:
    index: int
    base: Path
    port: int
    cluster_address: str
    proc: Proc | None = None

    @property
    def gcomm_port(self) -> int:
        return 14567 + 10 * self.index

    @property
    def datadir(self) -> Path:
        return self.base / f"db{self.index + 1}" / "data"

    @property
    def socket(self) -> Path:
        return self.base / f"db{self.index + 1}" / "mysqld.sock"

    @property
    def error_log(self) -> Path:
        return self.base / f"db{self.index + 1}" / "error.log"

    @property
    def cnf(self) -> Path:
        return self.base / f"db{self.index + 1}" / "my.cnf"

    def write_cnf(self) -> None:
        g = self.gcomm_port
        self.datadir.mkdir(parents=True, exist_ok=True)
        options = (
            f"gmcast.listen_addr=tcp://{HOST}:{g};ist.recv_addr={HOST}:{g + 1};"
            "gcache.size=128M;evs.suspect_timeout=PT3S;evs.inactive_timeout=PT6S;"
            "pc.wait_prim_timeout=PT10S"
        )
        self.cnf.write_text(f"""[mysqld]
user=mysql
datadir={self.datadir}
socket={self.socket}
pid-file={self.base / f"db{self.index + 1}" / "mysqld.pid"}
port={self.port}
bind-address={HOST}
log-error={self.error_log}
binlog_format=ROW
default_storage_engine=InnoDB
innodb_autoinc_lock_mode=2
innodb_buffer_pool_size=64M
innodb_log_file_size=32M
innodb_flush_log_at_trx_commit=2
performance_schema=OFF
character-set-server=utf8mb4
collation-server=utf8mb4_unicode_ci
max_connections=300
wsrep_on=ON
wsrep_provider={GALERA}
wsrep_cluster_name=zhcg_cluster_test
wsrep_cluster_address={self.cluster_address}
wsrep_node_name=db{self.index + 1}
wsrep_node_address={HOST}:{g}
wsrep_provider_options="{options}"
wsrep_sst_method=rsync
wsrep_sst_receive_address={HOST}:{g + 2}
wsrep_slave_threads=2
# The cluster refuses a table without a primary key and non-transactional tables (docs/scale.md).
wsrep_mode=REQUIRED_PRIMARY_KEY,STRICT_REPLICATION
""")

    def install(self) -> None:
        subprocess.run(
            [
                "mariadb-install-db",
                "--no-defaults",
                f"--datadir={self.datadir}",
                "--user=mysql",
                "--auth-root-authentication-method=normal",
                "--skip-test-db",
            ],
            check=True,
            capture_output=True,
            timeout=120,
        )

    def start(self, *extra: str) -> None:
        argv = ["mariadbd", f"--defaults-file={self.cnf}", *extra]
        self.proc = Proc(f"db{self.index + 1}", argv, self.error_log.with_suffix(".out")).start()

    def recovered_position(self) -> str:
        """After a crash: the last committed position (what galera_recovery does for systemd)."""
        log = self.base / f"db{self.index + 1}" / "recover.log"
        subprocess.run(
            ["mariadbd", f"--defaults-file={self.cnf}", "--wsrep-recover", f"--log-error={log}"],
            check=True,
            capture_output=True,
            timeout=120,
        )
        found = re.findall(r"WSREP: Recovered position: (\S+)", log.read_text())
        assert found, log.read_text()[-2000:]
        return found[-1]

    def root(self) -> pymysql.Connection:
        return pymysql.connect(
            unix_socket=str(self.socket),
            user="root",
            autocommit=True,
            connect_timeout=3,
            read_timeout=10,
        )

    def status(self, *names: str) -> dict[str, str]:
        with self.root() as conn, conn.cursor() as cur:
            cur.execute("SHOW GLOBAL STATUS WHERE Variable_name IN %s", (names,))
            return dict(cur.fetchall())

    def synced(self) -> bool:
        state = self.status("wsrep_local_state_comment", "wsrep_ready")
        return state.get("wsrep_local_state_comment") == "Synced" and state["wsrep_ready"] == "ON"

    def wait_synced(self, timeout: float = 120) -> None:
        def check() -> bool:
            if self.proc is not None and not self.proc.alive():
                raise Died(f"db{self.index + 1} exited: {self.error_log.read_text()[-3000:]}")
            return self.synced()

        wait_for(check, timeout, f"galera node db{self.index + 1}", interval=0.5)

    def query(self, sql: str, args=None):
        with self.root() as conn, conn.cursor() as cur:
            cur.execute(sql, args)
            return cur.fetchall()


class Galera:
    """Three nodes on one host: ports 13306-13308, group communication 14567/14577/14587."""

    def __init__(self, base: Path, ports: tuple[int, int, int]) -> None:
        address = "gcomm://" + ",".join(f"{HOST}:{14567 + 10 * i}" for i in range(3))
        self.nodes = [GaleraNode(i, base, port, address) for i, port in enumerate(ports)]

    def bootstrap(self) -> None:
        for node in self.nodes:
            node.write_cnf()
            # mariadbd runs as mysql, as in production (rsync SST writes as the server's user).
            subprocess.run(["chown", "-R", "mysql:mysql", str(node.datadir.parent)], check=True)
        first = self.nodes[0]
        first.install()
        first.start("--wsrep-new-cluster")
        first.wait_synced()
        for sql in (
            "CREATE DATABASE zhcg CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci",
            f"CREATE USER '{DB_USER}'@'%' IDENTIFIED BY '{DB_PASSWORD}'",
            f"GRANT ALL ON zhcg.* TO '{DB_USER}'@'%'",
            "CREATE USER 'haproxy_check'@'localhost'",
            "CREATE USER 'haproxy_check'@'127.0.0.1'",
        ):
            first.query(sql)
        for node in self.nodes[1:]:  # joiners: a full state transfer (SST, rsync) each
            node.start()
            node.wait_synced(180)

    def stop(self) -> None:
        for node in reversed(self.nodes):
            if node.proc is not None:
                node.proc.stop(60)


# ------------------------------------------------------------------------------------ the rest


def unit_argv(unit: str, root: Path = ROOT) -> list[str]:
    """The ExecStart of a deploy/ unit, with the install directory mapped to this checkout."""
    text = (DEPLOY / unit).read_text(encoding="utf-8")
    line = next(v for v in text.splitlines() if v.startswith("ExecStart="))
    return shlex.split(line.split("=", 1)[1].replace(INSTALL_DIR, str(root)))


def example_env() -> dict[str, str]:
    """The settings deploy/zhcg.env.example sets (its uncommented lines)."""
    env = {}
    for line in (DEPLOY / "zhcg.env.example").read_text(encoding="utf-8").splitlines():
        if re.match(r"^[A-Z][A-Z0-9_]*=", line):
            key, value = line.split("=", 1)
            env[key] = value
    return env


@dataclass
class Ports:
    db: tuple[int, int, int] = (13306, 13307, 13308)
    db_lb: int = 13309
    http_lb: int = 18080
    web: tuple[int, int] = (18001, 18002)
    redis: int = 16379
    s3: int = 15000
    db_check: tuple[int, int, int] = (19201, 19202, 19203)  # deploy/galera_check.py per node
    wechat: int = 18090  # "WeChat" and "WeChat Pay": the emulators, one process as one outside

    def all(self) -> list[int]:
        return [
            *self.db,
            self.db_lb,
            self.http_lb,
            *self.web,
            self.redis,
            self.s3,
            *self.db_check,
            self.wechat,
            *[14567 + 10 * i + k for i in range(3) for k in range(3)],
        ]


@dataclass
class Cluster:
    base: Path
    ports: Ports = field(default_factory=Ports)
    procs: dict[str, Proc] = field(default_factory=dict)
    galera: Galera | None = None
    envs: list[dict[str, str]] = field(default_factory=list)

    @property
    def lb(self) -> str:
        return f"http://{HOST}:{self.ports.http_lb}"

    def web_url(self, i: int) -> str:
        return f"http://{HOST}:{self.ports.web[i]}"

    def spawn(self, name: str, argv: list[str], env: dict[str, str] | None = None) -> Proc:
        proc = Proc(name, argv, self.base / f"{name}.log", env=env).start()
        self.procs[name] = proc
        return proc

    def haproxy_env(self) -> dict[str, str]:
        p = self.ports
        return {
            "PATH": os.environ["PATH"],
            "ZHCG_HTTP_BIND": f"{HOST}:{p.http_lb}",
            "ZHCG_WEB1": f"{HOST}:{p.web[0]}",
            "ZHCG_WEB2": f"{HOST}:{p.web[1]}",
            "ZHCG_DB_BIND": f"{HOST}:{p.db_lb}",
            **{f"ZHCG_DB{i + 1}": f"{HOST}:{port}" for i, port in enumerate(p.db)},
            **{f"ZHCG_DB{i + 1}_CHECK_PORT": str(port) for i, port in enumerate(p.db_check)},
            "ZHCG_HAPROXY_SOCKET": str(self.base / "haproxy.sock"),
        }

    def haproxy_admin(self, command: str) -> str:
        with socket.socket(socket.AF_UNIX) as sock:
            sock.connect(str(self.base / "haproxy.sock"))
            sock.sendall(command.encode() + b"\n")
            chunks = []
            while chunk := sock.recv(65536):
                chunks.append(chunk)
        return b"".join(chunks).decode()

    def server_states(self) -> dict[str, str]:
        """HAProxy's view: {"zhcg_web/web1": "UP", ...}."""
        lines = self.haproxy_admin("show stat").splitlines()
        header = lines[0].lstrip("# ").split(",")
        out = {}
        for line in lines[1:]:
            row = dict(zip(header, line.split(","), strict=False))
            if row.get("svname") not in (None, "FRONTEND", "BACKEND"):
                out[f"{row['pxname']}/{row['svname']}"] = row["status"]
        return out

    @property
    def wechat_url(self) -> str:
        return f"http://{HOST}:{self.ports.wechat}"

    def wechat_env(self) -> dict[str, str]:
        """The outside world's process: WeChat's and WeChat Pay's emulators (one gunicorn
        worker, so one record of every message sent and one bill store), as the nodes of a real
        deployment share one WeChat. Its own SQLite database is never used by the emulators."""
        instance = self.base / "wechat"
        env = {k: v for k, v in os.environ.items() if not k.startswith(("ZHCG_", "TEST_"))}
        env.pop("REDIS_URL", None)
        env |= {
            "APP_ENV": "development",
            "WECHAT_EMULATOR": "1",
            "INSTANCE_DIR": str(instance),
            "PUBLIC_BASE_URL": self.wechat_url,
            "DATABASE_URL": f"sqlite:///{instance / 'unused.db'}",
            "GUNICORN_BIND": f"{HOST}:{self.ports.wechat}",
            "WEB_CONCURRENCY": "1",
            "GUNICORN_THREADS": "8",
            "PROMETHEUS_MULTIPROC_DIR": str(instance / "prometheus"),
            "WECHATPAY_EMULATOR_DB": str(self.base / "wechatpay-emulator" / "state.db"),
            "WECHATPAY_EMULATOR_DELIVERY_SECONDS": "1",
            "LOG_LEVEL": "WARNING",
        }
        (instance / "prometheus").mkdir(parents=True, exist_ok=True)
        copy_model(instance)  # every app process loads it at start (wsgi.py)
        return env

    def node_env(self, i: int, s3_bucket: str) -> dict[str, str]:
        p = self.ports
        instance = self.base / f"node{i + 1}"
        env = {k: v for k, v in os.environ.items() if not k.startswith(("ZHCG_", "TEST_"))}
        env.pop("REDIS_URL", None)
        env |= example_env()
        env |= {
            # The emulators (WeChat, WeChat Pay, SMS, 12345) answer for the real services here;
            # APP_ENV=production refuses them, so the nodes run the development configuration
            # with everything else as in production.
            "APP_ENV": "development",
            "WECHAT_EMULATOR": "1",
            "WECHATPAY_PRIVATE_KEY_FILE": "",  # the emulator's generated keys
            "WECHATPAY_PUBLIC_KEY_FILE": "",
            "SECRET_KEY": "cluster-test-secret-Zq8vN3kT5wX1yB7mR2pL6hJ4",
            "INSTANCE_DIR": str(instance),
            "PUBLIC_BASE_URL": self.lb,
            "PROXY_COUNT": "1",  # HAProxy only; no nginx in the test
            "DATABASE_URL": f"mysql+pymysql://{DB_USER}:{DB_PASSWORD}@{HOST}:{p.db_lb}/zhcg"
            "?charset=utf8mb4",
            "REDIS_URL": f"redis://{HOST}:{p.redis}/0",
            "S3_ENDPOINT_URL": f"http://{HOST}:{p.s3}",
            "S3_BUCKET": s3_bucket,
            "S3_ACCESS_KEY_ID": "AKIAZHCGCLUSTER00000",
            "S3_SECRET_ACCESS_KEY": "moto-cluster-secret",
            "GUNICORN_BIND": f"{HOST}:{p.web[i]}",
            "WEB_CONCURRENCY": "2",
            "GUNICORN_THREADS": "4",
            "GUNICORN_ACCESS_LOG": str(self.base / f"web{i + 1}-access.log"),
            "PROMETHEUS_MULTIPROC_DIR": str(instance / "prometheus"),
            "LOG_LEVEL": "WARNING",
            "RATELIMIT_REPORTS": "100000/minute",
            "RATELIMIT_PUBLIC": "100000/minute",
            # The shared-limit check: sign-ins per client address and hour, over both nodes.
            "RATELIMIT_LOGIN": "16/hour",
            # WeChat and WeChat Pay are one outside service for both nodes (wechat_env).
            "WECHAT_API_BASE_URL": f"{self.wechat_url}/_wechat/",
            "WECHATPAY_API_BASE_URL": f"{self.wechat_url}/_wechatpay",
            "WECHATPAY_EMULATOR_DB": str(self.base / "wechatpay-emulator" / "state.db"),
            "WECHATPAY_EMULATOR_DELIVERY_SECONDS": "0",
            # 长期订阅: every case update is sent (no per-message consent to count here).
            "WECHAT_SUBSCRIBE_LONG_TERM": "1",
            "LITTERING_OCR_ENABLED": "0",
            "LITTERING_RETRY_SCALE": "0.05",
        }
        (instance / "prometheus").mkdir(parents=True, exist_ok=True)
        copy_model(instance)
        return env

    def db_snapshot(self) -> dict:
        """What the write node is doing: its busy connections and open transactions."""
        node = self.galera.nodes[0]
        busy = node.query(
            "SELECT ID, USER, COMMAND, TIME, STATE, LEFT(INFO, 160) "
            "FROM information_schema.PROCESSLIST WHERE COMMAND <> 'Sleep' "
            "AND USER = 'zhcg'"
        )
        trx = node.query(
            "SELECT trx_mysql_thread_id, trx_state, trx_started, "
            "trx_rows_locked, LEFT(trx_query, 160) FROM information_schema.INNODB_TRX"
        )
        return {"busy": [list(map(str, r)) for r in busy], "trx": [list(map(str, r)) for r in trx]}

    def stop(self) -> None:
        for proc in reversed(list(self.procs.values())):
            proc.stop()
        if self.galera is not None:
            self.galera.stop()


def copy_model(instance: Path) -> None:
    """The report classifier, trained once per host at install (`flask reports
    train-classifier`); without it a process trains its own at start, for minutes."""
    model = ROOT / "instance" / "models" / "report_classifier.pkl"
    if model.exists():
        (instance / "models").mkdir(parents=True, exist_ok=True)
        shutil.copy(model, instance / "models" / model.name)


def galera_check_argv(node: GaleraNode, port: int) -> list[str]:
    """deploy/zhcg-galera-check.service's ExecStart for ``node`` (the venv's Python: this
    machine has no python3-pymysql)."""
    argv = unit_argv("zhcg-galera-check.service")
    assert argv[0] == "/usr/bin/python3", argv
    values = {"--bind": HOST, "--port": str(port), "--socket": str(node.socket)}
    return [str(BIN / "python"), *[values.get(argv[k - 1], a) for k, a in enumerate(argv) if k]]


def evidence_jpeg(seed: int) -> bytes:
    """A blocky random photo: distinct seeds give distinct perceptual hashes (no fraud signal
    for the same picture in two reports)."""
    rng = random.Random(seed)
    img = Image.new("RGB", (96, 72))
    img.putdata([tuple(rng.randrange(256) for _ in range(3)) for _ in range(96 * 72)])
    img = img.resize((24, 18)).resize((320, 240), Image.Resampling.NEAREST)
    buf = io.BytesIO()
    img.save(buf, "JPEG", quality=90)
    return buf.getvalue()


def small_jpeg(seed: int) -> bytes:
    img = Image.effect_noise((640, 480), 40 + seed % 20).convert("RGB")
    buf = io.BytesIO()
    img.save(buf, "JPEG", quality=70)
    return buf.getvalue()


def photo_1mb() -> bytes:
    """A noisy 1440x1080 JPEG of about 1 MB, as bench/report_submit_bench.py sends (a phone photo
    after WeChat's compression)."""
    img = Image.effect_noise((1440, 1080), 60).convert("RGB")
    img = Image.blend(img, Image.new("RGB", img.size, (90, 120, 90)), 0.3)
    for quality in range(95, 60, -2):
        buf = io.BytesIO()
        img.save(buf, "JPEG", quality=quality)
        if buf.tell() <= 1_100_000:
            break
    return buf.getvalue()


def wait_http(url: str, timeout: float, proc: Proc | None = None) -> None:
    def check() -> bool:
        if proc is not None and not proc.alive():
            raise Died(f"{proc.name} exited; see {proc.log}")
        return requests.get(url, timeout=2).status_code == 200

    wait_for(check, timeout, url, interval=0.3)
