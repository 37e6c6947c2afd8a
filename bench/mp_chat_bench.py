"""Reporting in the public account's chat: the callback's answer time under sustained load beside
GET /healthz in the same run, and how many ready conversations `flask worker` turns into reports
per second (each fetching its photos from the WeChat emulator over HTTP).

    .venv/bin/python bench/mp_chat_bench.py [--seconds 8] [--rounds 2] [--connections 16]
                                            [--workers 2] [--worker-seconds 20]

A fresh MariaDB database (zhcg_bench_mp_chat on 127.0.0.1:3306, dropped afterwards) gets the
models' schema and the reports' part of the demo city (categories, departments, regions); the
service runs as the README runs it in production (gunicorn -c gunicorn.conf.py wsgi:app) with
the embedded WeChat emulator, whose uploaded media live in the instance directory (every process
sees them). Two phone photos (~1 MB each, as in report_submit_bench.py) are uploaded to the
emulator with cgi-bin/media/upload.

Callback phase: ``--connections`` client threads (127.0.0.1, bounded in time) each play citizens
one after another: menu click 我要上报, a description, two image messages, a location inside the
city; every push is signed as WeChat signs it, with a unique MsgId and nonce. /healthz and the
callback alternate in ``--rounds`` slices of ``--seconds``. No worker runs meanwhile.

Worker phase: ``--workers`` `flask worker` processes (WECHAT_API_BASE_URL pointing at the
server's /_wechat/, so media/get is real HTTP) run for ``--worker-seconds``; the conversations
filed in that window give the rate. Client, server and workers share the machine's cores.
"""

from __future__ import annotations

import argparse
import hashlib
import itertools
import os
import random
import secrets
import subprocess
import tempfile
import threading
import time
from collections import defaultdict
from pathlib import Path
from urllib.parse import urlencode

import pymysql
import requests
from report_submit_bench import (
    PY,
    ROOT,
    XIAOBEI,
    free_port,
    load,
    pair_ratios_line,
    pct,
    photo_1mb,
    run,
    start_server,
    worker_pids,
)

DB = "zhcg_bench_mp_chat"
TOKEN = "bench-mp-token"  # noqa: S105 - the bench account's callback token
SEED = """
from app import create_app
from app.extensions import db
from reports import classifier
from reports.seed import seed_demo
app = create_app()
with app.app_context():
    db.create_all()
    seed_demo()
    db.session.commit()
    classifier.get_model(app)  # trained and saved here, not while the server starts
"""
STEPS = ("click", "describe", "image", "image", "location")


def mariadb(sql: str) -> list[tuple]:
    conn = pymysql.connect(host="127.0.0.1", user="root", database=None, autocommit=True)
    try:
        with conn.cursor() as cur:
            cur.execute(sql)
            return list(cur.fetchall())
    finally:
        conn.close()


def upload(base: str, env: dict[str, str], data: bytes) -> str:
    """A media_id from the emulator's cgi-bin/media/upload, as a phone's upload gives WeChat."""
    token = requests.post(f"{base}/_wechat/cgi-bin/stable_token", timeout=10, json={
        "grant_type": "client_credential", "appid": env["WECHAT_MP_APP_ID"],
        "secret": env["WECHAT_MP_APP_SECRET"]}).json()["access_token"]  # fmt: skip
    resp = requests.post(f"{base}/_wechat/cgi-bin/media/upload", timeout=30,
                         params={"access_token": token, "type": "image"},
                         files={"media": ("p.jpg", data, "image/jpeg")})  # fmt: skip
    return resp.json()["media_id"]


class Citizens:
    """Each client thread plays citizens in turn: the five pushes of one conversation."""

    def __init__(self, media_ids: list[str]) -> None:
        self.media_ids = media_ids
        self.local = threading.local()
        self.ids = itertools.count(int(time.time()) * 1000)
        self.people = itertools.count()
        self.lock = threading.Lock()
        self.by_step: dict[str, list[float]] = defaultdict(list)

    def _next(self) -> tuple[str, int]:
        with self.lock:
            return next(self.ids), next(self.people)

    def push(self, session: requests.Session, base: str) -> int:
        state = self.local.__dict__
        if state.get("step", len(STEPS)) >= len(STEPS):
            state["step"], state["who"] = 0, f"o-bench-{self._next()[1]:07d}"
        step = STEPS[state["step"]]
        msg_id, _ = self._next()
        body = self.body(step, state["who"], msg_id, state["step"])
        timestamp, nonce = str(int(time.time())), secrets.token_hex(8)
        sig = hashlib.sha1("".join(sorted((TOKEN, timestamp, nonce))).encode()).hexdigest()  # noqa: S324
        query = urlencode({"timestamp": timestamp, "nonce": nonce, "signature": sig})
        t0 = time.perf_counter()
        resp = session.post(f"{base}/wechat/mp?{query}", data=body.encode(), timeout=10,
                            headers={"Content-Type": "text/xml"})  # fmt: skip
        dt = time.perf_counter() - t0
        if resp.status_code == 200 and b"<Content>" in resp.content:
            with self.lock:
                self.by_step[step].append(dt)
            state["step"] += 1
            return 200
        state["step"] = len(STEPS)  # start a new citizen after a failure
        return resp.status_code if resp.status_code != 200 else 599

    def body(self, step: str, who: str, msg_id: int, n: int) -> str:
        head = (f"<xml><ToUserName><![CDATA[gh_bench]]></ToUserName>"
                f"<FromUserName><![CDATA[{who}]]></FromUserName>"
                f"<CreateTime>{int(time.time())}</CreateTime>")  # fmt: skip
        if step == "click":
            return (head + "<MsgType><![CDATA[event]]></MsgType><Event><![CDATA[CLICK]]></Event>"
                    "<EventKey><![CDATA[REPORT_IN_CHAT]]></EventKey>"
                    f"<MsgId>{msg_id}</MsgId></xml>")  # fmt: skip
        if step == "describe":
            return (head + "<MsgType><![CDATA[text]]></MsgType><Content><![CDATA["
                    "小北一路人行道上的雨水井盖破损，行人容易踩空]]></Content>"
                    f"<MsgId>{msg_id}</MsgId></xml>")  # fmt: skip
        if step == "image":
            media = self.media_ids[n % len(self.media_ids)]
            return (head + "<MsgType><![CDATA[image]]></MsgType>"
                    f"<PicUrl><![CDATA[http://mmbiz.qpic.cn/bench/{msg_id}]]></PicUrl>"
                    f"<MediaId><![CDATA[{media}]]></MediaId>"
                    f"<MsgId>{msg_id}</MsgId></xml>")  # fmt: skip
        lat = XIAOBEI[0] + random.uniform(-0.005, 0.005)
        lng = XIAOBEI[1] + random.uniform(-0.005, 0.005)
        return (head + f"<MsgType><![CDATA[location]]></MsgType><Location_X>{lat:.6f}</Location_X>"
                f"<Location_Y>{lng:.6f}</Location_Y><Scale>15</Scale>"
                "<Label><![CDATA[沈阳市铁西区小北一路]]></Label>"
                f"<MsgId>{msg_id}</MsgId></xml>")  # fmt: skip


def slice_result(n: int, seconds: float, latencies: list[float]) -> dict:
    return {"requests": n, "rps": n / seconds, "p50": pct(latencies, 50),
            "p99": pct(latencies, 99), "latencies": latencies}  # fmt: skip


def rounds_table(pairs: list[tuple[dict, dict]], name: str) -> tuple[list[float], list[float]]:
    """Print each round's /healthz and ``name`` slices as a Markdown table; every latency of
    each side over all rounds."""
    print("| round | endpoint | requests | per second | p50 ms | p99 ms |")
    print("| --- | --- | --- | --- | --- | --- |")
    for i, (ref, got) in enumerate(pairs, 1):
        for endpoint, r in (("GET /healthz (reference)", ref), (name, got)):
            print(f"| {i} | {endpoint} | {r['requests']:,} | {r['rps']:.0f} | {r['p50']:.1f} | "
                  f"{r['p99']:.1f} |")  # fmt: skip
    return ([x for ref, _ in pairs for x in ref["latencies"]],
            [x for _, got in pairs for x in got["latencies"]])  # fmt: skip


def chat_states() -> dict[str, int]:
    return dict(mariadb(f"SELECT state, COUNT(*) FROM {DB}.mp_chats GROUP BY state"))  # noqa: S608


def run_workers(env: dict[str, str], base: str, workers: int, seconds: float) -> dict:
    """Start the workers, count the conversations filed while they run."""
    worker_env = env | {"WECHAT_API_BASE_URL": f"{base}/_wechat/"}
    log = open(Path(env["INSTANCE_DIR"]) / "worker.log", "w")  # noqa: SIM115
    before = chat_states()
    procs = [
        subprocess.Popen(
            [str(PY / "flask"), "worker", "--interval", "0.2"],
            cwd=ROOT,
            env=worker_env,
            stdout=log,
            stderr=log,
        )
        for _ in range(workers)
    ]
    try:
        # Filing starts once a worker has started (imports, the classifier): timed from the first
        # filed conversation, until the window ends or nothing is left to file.
        deadline = time.perf_counter() + 120
        first = None
        while time.perf_counter() < deadline:
            states, now = chat_states(), time.perf_counter()
            done = states.get("done", 0)
            if first is None and done:
                first = (now, done)
            left = states.get("ready", 0) + states.get("submitting", 0)
            if first is not None and (now - first[0] >= seconds or not left):
                break
            time.sleep(0.25)
    finally:
        for p in procs:
            p.terminate()
        for p in procs:
            p.wait(timeout=30)
    t_first, done_first = first or (now, done)
    elapsed = max(now - t_first, 1e-9)
    reports = mariadb(f"SELECT COUNT(*) FROM {DB}.reports WHERE channel = 'mp_chat'")  # noqa: S608
    reports = reports[0][0]
    photos = mariadb(f"SELECT COUNT(*) FROM {DB}.report_photos")[0][0]  # noqa: S608
    return {"ready": before.get("ready", 0), "filed": done - done_first, "seconds": elapsed,
            "reports": reports, "photos": photos, "states": chat_states()}  # fmt: skip


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--seconds", type=float, default=8, help="length of each load slice")
    ap.add_argument("--rounds", type=int, default=2, help="healthz/callback pairs, alternating")
    ap.add_argument("--connections", type=int, default=16)
    ap.add_argument("--workers", type=int, default=2, help="`flask worker` processes")
    ap.add_argument("--worker-seconds", type=float, default=20)
    args = ap.parse_args()

    tmp = tempfile.mkdtemp(prefix="zhcg-bench-mpchat-")
    mariadb(f"DROP DATABASE IF EXISTS {DB}")
    mariadb(f"CREATE DATABASE {DB} CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci")
    env = os.environ | {"FLASK_APP": "wsgi:app", "INSTANCE_DIR": tmp, "LOG_LEVEL": "WARNING",
                        "DATABASE_URL": f"mysql+pymysql://root@127.0.0.1:3306/{DB}?charset=utf8mb4",
                        "WECHAT_MP_TOKEN": TOKEN, "WECHAT_MP_APP_ID": "wxmpemulator0000001",
                        "WECHAT_MP_APP_SECRET": "emulator-mp-secret",
                        "RATELIMIT_PUBLIC": "100000000/minute"}  # fmt: skip
    env.pop("REDIS_URL", None)
    env.pop("WECHAT_API_BASE_URL", None)
    t0 = time.perf_counter()
    # The schema from the models (the migrations build the same, tests/test_migrations.py checks
    # it, but their DDL takes minutes on a busy MariaDB) and the reports' part of the demo city
    # (categories, calendar, departments, regions): all the chat needs, quicker than `flask seed
    # demo` with its shops, facilities and staff.
    run([str(PY / "python"), "-c", SEED], env)
    print(f"database created and seeded ({time.perf_counter() - t0:.0f} s)")
    port = free_port()
    proc = start_server(env, port)
    base = f"http://127.0.0.1:{port}"
    try:
        media_ids = [upload(base, env, photo_1mb(i)) for i in (1, 2)]
        citizens = Citizens(media_ids)

        def healthz(session, _i):
            return session.get(f"{base}/healthz", timeout=10).status_code

        def callback(session, _i):
            return citizens.push(session, base)

        load(callback, args.connections, 3, 10**6)  # warm-up (imports, caches, pools)
        citizens.by_step.clear()
        pairs = []
        for _ in range(args.rounds):  # alternate, so background noise shows in both
            ref = slice_result(*load(healthz, args.connections, args.seconds, 10**7))
            got = slice_result(*load(callback, args.connections, args.seconds, 10**7))
            pairs.append((ref, got))
        states = chat_states()
        work = run_workers(env, base, args.workers, args.worker_seconds)
        report(args, proc, env, pairs, citizens, states, work)
    finally:
        proc.terminate()
        proc.wait(timeout=30)
        mariadb(f"DROP DATABASE IF EXISTS {DB}")


def report(args, proc, env, pairs, citizens: Citizens, states, work) -> None:
    """Print the figures as Markdown."""
    workers = len(worker_pids(proc.pid))
    print(f"MariaDB; gunicorn {workers} workers x {env.get('GUNICORN_THREADS', '4')} threads "
          f"(gthread); {args.connections} client threads; {args.rounds} rounds of "
          f"{args.seconds:.0f} s per endpoint")  # fmt: skip
    ref_all, got_all = rounds_table(pairs, "POST /wechat/mp (chat steps)")
    print(f"all rounds: /healthz p50 {pct(ref_all, 50):.1f} ms, p99 {pct(ref_all, 99):.1f} ms; "
          f"callback p50 {pct(got_all, 50):.1f} ms, p99 {pct(got_all, 99):.1f} ms "
          f"(p99 ratio {pct(got_all, 99) / pct(ref_all, 99):.1f}x); throughput: "
          + pair_ratios_line(pairs))  # fmt: skip
    print("callback by step (p50 / p99 ms): " + "; ".join(
        f"{step} {pct(v, 50):.1f} / {pct(v, 99):.1f} (n={len(v)})"
        for step, v in citizens.by_step.items()))  # fmt: skip
    print(f"conversations after the load: {states}")
    print(f"worker: {args.workers} `flask worker` processes, {work['filed']} conversations filed "
          f"in {work['seconds']:.1f} s = {work['filed'] / work['seconds']:.1f} reports/s "
          f"(2 photos of ~1 MB each fetched over HTTP and stored); {work['reports']} reports and "
          f"{work['photos']} photos in all; states after: {work['states']}")  # fmt: skip


if __name__ == "__main__":
    main()
