"""The public-account message callback (POST /wechat/mp) under load, beside GET /healthz in the
same run, and where its time goes (issue 18).

    .venv/bin/python bench/mp_callback_bench.py [--seconds 5] [--rounds 4] [--connections 32]
                                                [--senders 5000] [--profile 2000] [--no-redis]

A fresh MariaDB database (zhcg_bench_mp_callback on 127.0.0.1:3306, dropped afterwards) gets the
models' schema and a dozen keyword replies (an account's usual set; the welcome text answers
everything else). Redis (REDIS_URL, default redis://127.0.0.1:6379/0) remembers the callback's
nonces as in production; ``--no-redis`` leaves it out, so the nonces go to the database.

Profile phase (in this process, the same database): ``--profile`` pushes through the Flask test
client, counting the round trips each one makes (every command pymysql sends to MariaDB, every
command redis-py sends to Redis) and listing the statements of one push; then cProfile's top
entries over the same number of pushes.

Load phase: the service runs as production runs it (gunicorn -c gunicorn.conf.py wsgi:app, as in
mp_chat_bench.py). ``--connections`` client threads, each on its own keep-alive connection, push
plain text messages signed as WeChat signs them (token, timestamp, nonce), each with a unique
MsgId and nonce, from ``--senders`` citizens chosen at random (two texts in ten match a keyword
reply, the others get the welcome text); each slice's pushes are built and signed just before it,
as WeChat's servers build them, so the client's work per request is the HTTP exchange, as for
/healthz. /healthz and the callback alternate in ``--rounds`` slices of ``--seconds``. A push
counts as answered when it gets 200 with a passive reply; afterwards the stored rows are counted
against the answers (0 lost: every answered push has its row) and every row must have its reply
recorded. The CPU time of the client, the gunicorn processes, mariadbd and redis-server over
each endpoint's slices is divided by its requests.
"""

from __future__ import annotations

import argparse
import collections
import cProfile
import hashlib
import io
import itertools
import os
import pstats
import random
import re
import secrets
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from urllib.parse import urlencode

import requests
from mp_chat_bench import mariadb, rounds_table, slice_result
from report_submit_bench import ROOT, free_port, load, pct, run, start_server, worker_pids

DB = "zhcg_bench_mp_callback"
DB_URL = f"mysql+pymysql://root@127.0.0.1:3306/{DB}?charset=utf8mb4"
TOKEN = "bench-mp-token"  # noqa: S105 - the bench account's callback token
APP_ID = "wxmpemulator0000001"
WELCOME = "欢迎关注沈阳智慧城管！点击菜单“我要上报”反映城市管理问题。"
KEYWORDS = [
    ("上报", "exact", "请点击菜单“我要上报”。"),
    ("投诉", "contains", "投诉请拨打12319。"),
    ("井盖", "contains", "井盖问题请直接上报。"),
    ("停车", "contains", "停车信息见菜单。"),
    ("厕所", "contains", "发送位置可查最近的公厕。"),
    ("垃圾", "contains", "垃圾分类指南见菜单。"),
    ("热线", "exact", "12319城管热线。"),
    ("工作时间", "exact", "工作日8:30-17:00。"),
    ("占道", "contains", "占道经营请上报。"),
    ("噪音", "contains", "噪音请拨打110。"),
    ("广告", "contains", "小广告请拍照上报。"),
    ("帮助", "exact", "回复“上报”开始。"),
]
# Two in ten contain a keyword (their reply is the keyword's); the rest get the welcome text.
TEXTS = ["你好", "请问怎么反映问题", "路口有辆车停了好几天", "谢谢", "小区门口的路灯坏了",
         "今天天气不错", "请问这个公众号是做什么的", "我家楼下施工到半夜", "我要投诉",
         "楼下井盖坏了"]  # fmt: skip
SETUP = """
from app import create_app
from app.extensions import db
from app.changes import ChangeCounter
from reports import classifier
from wechat import models
app = create_app()
with app.app_context():
    db.create_all()
    if hasattr(models, "KEYWORDS_TOPIC"):  # the keywords' change counter (migration 0027)
        db.session.add(ChangeCounter(name=models.KEYWORDS_TOPIC, value=0))
    for keyword, match, reply in {keywords!r}:
        db.session.add(models.MpKeyword(keyword=keyword, match=match, reply=reply))
    db.session.commit()
    classifier.get_model(app)  # trained and saved here (wsgi.py loads it), not while it starts
"""


class Pushes:
    """Plain-mode text pushes as WeChat's servers send them: unique MsgIds and nonces. A batch is
    built and signed before each load slice (WeChat's work, not the server's), so during the
    slice the client does for each push the same HTTP work as for /healthz."""

    def __init__(self, senders: int) -> None:
        self.ids = itertools.count(int(time.time()) * 1000)
        self.senders = senders
        self.lock = threading.Lock()
        self.ready: collections.deque[tuple[str, bytes]] = collections.deque()
        self.answered = 0
        self.bad = 0
        self.failures: list[str] = []  # the first few, as the client saw them

    def request(self, text: str | None = None) -> tuple[str, bytes]:
        """A signed callback path and its body (``text``, else one of TEXTS)."""
        with self.lock:
            msg_id = next(self.ids)
        who = f"o-bench-{random.randrange(self.senders):06d}"
        now, text = int(time.time()), text or random.choice(TEXTS)
        body = (f"<xml><ToUserName><![CDATA[gh_bench]]></ToUserName>"
                f"<FromUserName><![CDATA[{who}]]></FromUserName><CreateTime>{now}</CreateTime>"
                f"<MsgType><![CDATA[text]]></MsgType><Content><![CDATA[{text}]]>"
                f"</Content><MsgId>{msg_id}</MsgId></xml>")  # fmt: skip
        timestamp, nonce = str(now), str(secrets.randbelow(10**10))
        sig = hashlib.sha1("".join(sorted((TOKEN, timestamp, nonce))).encode()).hexdigest()  # noqa: S324
        query = urlencode({"signature": sig, "timestamp": timestamp, "nonce": nonce,
                           "openid": who})  # fmt: skip
        return f"/wechat/mp?{query}", body.encode()

    def prepare(self, n: int) -> None:
        """Build and sign ``n`` pushes now (their timestamps stay fresh for minutes)."""
        self.ready = collections.deque(self.request() for _ in range(n))

    def push(self, session: requests.Session, base: str) -> int:
        try:
            path, body = self.ready.popleft()
        except IndexError:  # the batch ran out: build it here
            path, body = self.request()
        resp = session.post(base + path, data=body, timeout=10,
                            headers={"Content-Type": "text/xml"})  # fmt: skip
        ok = resp.status_code == 200 and b"<Content><![CDATA[" in resp.content
        with self.lock:
            if ok:
                self.answered += 1
            else:
                self.bad += 1
                if len(self.failures) < 5:
                    self.failures.append(f"{resp.status_code} {resp.text[:200]}")
        return 200 if ok else (resp.status_code if resp.status_code != 200 else 599)


# --- profile: round trips and cProfile, in process ---------------------------------------------


class RoundTrips:
    """Counts and times what the process sends while ``on``: each command pymysql sends to
    MariaDB (queries, savepoints, COMMIT, ROLLBACK, the pool's ping) and each redis-py command,
    grouped by kind (the statement's first words); ``log`` keeps their text when set."""

    def __init__(self) -> None:
        import pymysql.connections
        import redis

        self.on, self.log = False, None
        self.kinds: dict[str, list[float]] = {}
        trips = self
        conn_cls = pymysql.connections.Connection

        def timed(kind_of, send):
            def wrapper(*args, **kwargs):
                if not trips.on:
                    return send(*args, **kwargs)
                t0 = time.perf_counter()
                try:
                    return send(*args, **kwargs)
                finally:
                    kind, text = kind_of(*args, **kwargs)
                    entry = trips.kinds.setdefault(kind, [0, 0.0])
                    entry[0] += 1
                    entry[1] += time.perf_counter() - t0
                    if trips.log is not None:
                        trips.log.append(text)

            return wrapper

        def sql_kind(_conn, sql, *_a, **_k):
            text = sql.decode() if isinstance(sql, bytes) else str(sql)
            words = text.split()
            table = next((w for w in words if w.startswith(("wechat_", "mp_"))), "")
            kind = " ".join(words[:2] if words[0] in ("SAVEPOINT", "RELEASE") else words[:1])
            kind = "SAVEPOINT" if words[0] in ("SAVEPOINT", "RELEASE") else kind
            return f"MariaDB {kind} {table}".strip(), "MariaDB " + " ".join(words)[:120]

        conn_cls.query = timed(sql_kind, conn_cls.query)
        for name in ("commit", "rollback", "ping"):
            label = f"MariaDB {name.upper()}"
            kind = lambda *_a, _l=label, **_k: (_l, _l)  # noqa: E731
            setattr(conn_cls, name, timed(kind, getattr(conn_cls, name)))

        def redis_kind(_client, *args, **_kwargs):
            return f"Redis {args[0]}", "Redis " + " ".join(map(str, args[:2]))

        redis.Redis.execute_command = timed(redis_kind, redis.Redis.execute_command)

    def reset(self) -> None:
        self.kinds = {}

    def table(self, n: int) -> list[str]:
        """Per push: how many of each kind, and their mean time."""
        lines = ["| round trip | per push | ms each (mean) |", "| --- | --- | --- |"]
        for kind, (count, total) in sorted(self.kinds.items(), key=lambda kv: -kv[1][1]):
            lines.append(f"| {kind} | {count / n:.2f} | {total / count * 1000:.2f} |")
        mariadb_n = sum(c for k, (c, _) in self.kinds.items() if k.startswith("MariaDB"))
        redis_n = sum(c for k, (c, _) in self.kinds.items() if k.startswith("Redis"))
        waited = sum(t for c, t in self.kinds.values())
        lines.append(f"| **all** | MariaDB {mariadb_n / n:.2f}, Redis {redis_n / n:.2f} | "
                     f"{waited / n * 1000:.2f} ms a push in all |")  # fmt: skip
        return lines


def profile(env: dict[str, str], n: int) -> None:
    """Round trips per push, the statements of one push, and cProfile's top entries."""
    trips = RoundTrips()
    os.environ.update(env)
    sys.path.insert(0, str(ROOT))
    from app import create_app  # after the environment is set: the app reads it

    app = create_app()
    pushes = Pushes(10**6)
    client = app.test_client()

    def push(text: str | None = None) -> None:
        path, body = pushes.request(text)
        resp = client.post(path, data=body, content_type="text/xml")
        assert resp.status_code == 200 and b"<Content>" in resp.data, resp.data

    for _ in range(50):  # warm up: pools, the Redis connection, caches
        push()
    for text, what in ((TEXTS[0], "the welcome text"), (TEXTS[-1], "a keyword's reply")):
        trips.on, trips.log = True, []
        push(text)
        print(f"the round trips of one push answered with {what}:")
        for line in trips.log:
            print(f"    {line}")
    trips.reset()
    trips.on, trips.log = True, None
    t0, c0 = time.perf_counter(), time.process_time()
    for _ in range(n):
        push()
    wall, cpu = time.perf_counter() - t0, time.process_time() - c0
    trips.on = False
    print(f"{n} pushes, one after another through the test client: {wall / n * 1000:.2f} ms a "
          f"push ({cpu / n * 1000:.2f} ms of it CPU in this process)")  # fmt: skip
    print("\n".join(trips.table(n)))
    prof = cProfile.Profile(time.process_time)  # CPU: what competes for the 2 cores
    prof.enable()
    for _ in range(n):
        push()
    prof.disable()
    out = io.StringIO()
    stats = pstats.Stats(prof, stream=out)
    stats.sort_stats("cumulative").print_stats(r"(wechat|reports|app|shops|services_nearby)/", 25)
    stats.sort_stats("tottime").print_stats(15)
    print("cProfile (CPU time, process_time), cumulative in the project's code, then own time:")
    print(out.getvalue())


# --- load ---------------------------------------------------------------------------------------


def listener(port: int) -> int | None:
    """The pid of the process listening on 127.0.0.1:``port`` (MariaDB, Redis), if visible."""
    out = subprocess.run(["ss", "-ltnpH", f"sport = :{port}"], capture_output=True, text=True)
    found = re.search(r"pid=(\d+)", out.stdout)
    return int(found.group(1)) if found else None


class CpuMeter:
    """CPU seconds (user + system) spent by the client (this process), the gunicorn workers,
    mariadbd and redis-server, read from /proc around each slice."""

    TICK = os.sysconf("SC_CLK_TCK")

    def __init__(self, master: int) -> None:
        self.pids = {"client": [os.getpid()], "gunicorn": [master, *worker_pids(master)],
                     "MariaDB": [p for p in [listener(3306)] if p],
                     "Redis": [p for p in [listener(6379)] if p]}  # fmt: skip
        self.spent: dict[str, dict[str, float]] = {}

    def read(self) -> dict[str, float]:
        totals = {}
        for name, pids in self.pids.items():
            total = 0.0
            for pid in pids:
                try:
                    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
                except OSError:
                    continue
                total += (int(fields[11]) + int(fields[12])) / self.TICK  # utime, stime
            totals[name] = total
        return totals

    def measure(self, endpoint: str, run):
        before = self.read()
        result = run()
        after = self.read()
        spent = self.spent.setdefault(endpoint, {"requests": 0})
        spent["requests"] += result["requests"]
        for name in after:
            spent[name] = spent.get(name, 0.0) + after[name] - before[name]
        return result

    def lines(self) -> list[str]:
        names = list(self.pids)
        lines = ["| endpoint | " + " | ".join(f"{n} CPU ms" for n in names) + " | all |",
                 "| --- |" + " --- |" * (len(names) + 1)]  # fmt: skip
        for endpoint, spent in self.spent.items():
            per = [spent[n] / max(spent["requests"], 1) * 1000 for n in names]
            lines.append(f"| {endpoint} | " + " | ".join(f"{x:.2f}" for x in per)
                         + f" | {sum(per):.2f} |")  # fmt: skip
        return lines


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--seconds", type=float, default=5, help="length of each load slice")
    ap.add_argument("--rounds", type=int, default=4, help="healthz/callback pairs, alternating")
    ap.add_argument("--connections", type=int, default=32)
    ap.add_argument("--senders", type=int, default=5000, help="distinct citizens pushing")
    ap.add_argument("--profile", type=int, default=2000, help="pushes profiled (0: none)")
    ap.add_argument("--no-redis", action="store_true", help="nonces in the database")
    ap.add_argument("--profile-only", action="store_true")
    args = ap.parse_args()

    tmp = tempfile.mkdtemp(prefix="zhcg-bench-mpcb-")
    mariadb(f"DROP DATABASE IF EXISTS {DB}")
    mariadb(f"CREATE DATABASE {DB} CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci")
    env = {"FLASK_APP": "wsgi:app", "INSTANCE_DIR": tmp, "LOG_LEVEL": "WARNING",
           "DATABASE_URL": DB_URL, "WECHAT_MP_TOKEN": TOKEN, "WECHAT_MP_APP_ID": APP_ID,
           "WECHAT_MP_WELCOME": WELCOME,
           "REDIS_URL": os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/0")}  # fmt: skip
    if args.no_redis:
        env["REDIS_URL"] = ""
    env = os.environ | env
    try:
        run([str(ROOT / ".venv" / "bin" / "python"), "-c", SETUP.format(keywords=KEYWORDS)], env)
        if args.profile:
            profile(env, args.profile)
        if not args.profile_only:
            measure(args, env)
    finally:
        mariadb(f"DROP DATABASE IF EXISTS {DB}")
        shutil.rmtree(tmp, ignore_errors=True)


def measure(args, env: dict[str, str]) -> None:
    port = free_port()
    proc = start_server(env, port)
    base = f"http://127.0.0.1:{port}"
    try:
        pushes = Pushes(args.senders)

        def healthz(session, _i):
            return session.get(f"{base}/healthz", timeout=10).status_code

        def callback(session, _i):
            return pushes.push(session, base)

        load(callback, args.connections, 2, 10**6)  # warm-up (pools, caches)
        load(healthz, args.connections, 1, 10**6)
        cpu = CpuMeter(proc.pid)
        pairs = []
        for _ in range(args.rounds):  # alternate, so background noise shows in both
            ref = cpu.measure("GET /healthz", lambda: slice_result(
                *load(healthz, args.connections, args.seconds, 10**7)))  # fmt: skip
            pushes.prepare(int(args.seconds * 3000))  # more than the slice sends
            got = cpu.measure("POST /wechat/mp", lambda: slice_result(
                *load(callback, args.connections, args.seconds, 10**7)))  # fmt: skip
            pairs.append((ref, got))
        time.sleep(0.5)
        stored = mariadb(f"SELECT COUNT(*), SUM(replied) FROM {DB}.wechat_mp_messages")[0]  # noqa: S608
        report(args, proc, env, pairs, pushes, stored)
        print("CPU per request, by process (MariaDB: the whole server, other clients included):")
        print("\n".join(cpu.lines()))
    finally:
        proc.terminate()
        proc.wait(timeout=30)


def report(args, proc, env, pairs, pushes: Pushes, stored) -> None:
    """Print the figures as Markdown."""
    workers = len(worker_pids(proc.pid))
    print(f"MariaDB, nonces in {'the database' if args.no_redis else 'Redis'}; gunicorn "
          f"{workers} workers x {env.get('GUNICORN_THREADS', '4')} threads (gthread); "
          f"{args.connections} keep-alive connections; {args.rounds} rounds of "
          f"{args.seconds:.0f} s per endpoint; {args.senders} senders")  # fmt: skip
    ref_all, got_all = rounds_table(pairs, "POST /wechat/mp (text)")
    ratios = [got["rps"] / ref["rps"] for ref, got in pairs]
    p99s = [got["p99"] / ref["p99"] for ref, got in pairs]
    print(f"throughput: median of the {len(pairs)} pairs' ratios {statistics.median(ratios):.0%} "
          f"of /healthz (range {min(ratios):.0%}-{max(ratios):.0%}); p99 {pct(got_all, 99):.1f} ms "
          f"against /healthz's {pct(ref_all, 99):.1f} ms (all rounds: "
          f"{pct(got_all, 99) / pct(ref_all, 99):.2f}x; median of the pairs "
          f"{statistics.median(p99s):.2f}x); p50 {pct(got_all, 50):.1f} ms against "
          f"{pct(ref_all, 50):.1f} ms")  # fmt: skip
    rows, replied = stored[0], int(stored[1] or 0)
    print(f"answered 200 with a reply: {pushes.answered:,}; other answers: {pushes.bad}; rows "
          f"stored: {rows:,} ({replied:,} with their reply recorded); lost (answered, not "
          f"stored): {max(pushes.answered - rows, 0)}")  # fmt: skip
    for failure in pushes.failures:
        print(f"  failed push: {failure}")
    if pushes.failures:  # the server's side of them (the directory goes with the run)
        log = Path(env["INSTANCE_DIR"]) / "gunicorn.log"
        print("  server log, last lines:\n" + "\n".join(log.read_text().splitlines()[-20:]))


if __name__ == "__main__":
    main()
