#!/usr/bin/env python3
"""HTTP health check of one Galera node for HAProxy (deploy/haproxy.cfg, `zhcg_galera`).

A MySQL login (HAProxy's `mysql-check`) succeeds on a node that must not take the app's
connections: a joiner still receiving its state transfer, a donor busy sending one, a node cut
off in a non-primary component (it answers "WSREP has not yet prepared node for application use"
to every query). This check answers 200 only when the node is Synced
(`wsrep_local_state` = 4), `wsrep_ready` is ON, it belongs to the Primary component and is not
read-only; anything else is 503 with the reason, and HAProxy moves the connections on
(`on-marked-down shutdown-sessions`).

Runs on every database host as `zhcg-galera-check.service`, next to mariadbd, with the Debian
package python3-pymysql (no other dependency). It connects as a user without privileges
(`CREATE USER 'haproxy_check'@'localhost'`; status variables need none) and keeps that one
connection open between checks.

    galera_check.py --bind 0.0.0.0 --port 9200 --socket /run/mysqld/mysqld.sock

Options may also come from the environment: GALERA_CHECK_BIND, GALERA_CHECK_PORT,
GALERA_CHECK_SOCKET (or GALERA_CHECK_HOST and GALERA_CHECK_DB_PORT), GALERA_CHECK_USER.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pymysql

SYNCED = "4"
STATES = {"1": "Joining", "2": "Donor/Desynced", "3": "Joined", "4": "Synced"}
VARIABLES = ("wsrep_local_state", "wsrep_ready", "wsrep_cluster_status", "wsrep_connected")


class Node:
    """One connection to the local server, opened again after any error."""

    def __init__(self, connect: dict) -> None:
        self.connect, self.conn, self.lock = connect, None, threading.Lock()

    def verdict(self) -> tuple[int, str]:
        with self.lock:
            try:
                return judge(*self._read())
            except pymysql.MySQLError as exc:
                self._close()
                return 503, f"cannot read the node's state: {exc}"

    def _read(self) -> tuple[dict[str, str], str]:
        if self.conn is None:
            self.conn = pymysql.connect(
                **self.connect, connect_timeout=2, read_timeout=2, autocommit=True
            )
        with self.conn.cursor() as cur:
            cur.execute("SHOW GLOBAL STATUS WHERE Variable_name IN %s", (VARIABLES,))
            status = {name.lower(): str(value) for name, value in cur.fetchall()}
            cur.execute("SELECT @@global.read_only")
            (read_only,) = cur.fetchone()
        return status, str(read_only)

    def _close(self) -> None:
        if self.conn is not None:
            with contextlib.suppress(Exception):  # already broken
                self.conn.close()
        self.conn = None


def judge(status: dict[str, str], read_only: str) -> tuple[int, str]:
    """(HTTP status, reason) for a node's status variables."""
    if "wsrep_local_state" not in status:
        return 503, "not a Galera node (wsrep is off)"
    state = status["wsrep_local_state"]
    if state != SYNCED:
        return 503, f"not synced: {STATES.get(state, state)}"
    if status.get("wsrep_ready") != "ON":
        return 503, "wsrep_ready is OFF"
    if status.get("wsrep_cluster_status") != "Primary":
        return 503, f"not in the primary component: {status.get('wsrep_cluster_status')}"
    if read_only not in ("0", "OFF"):
        return 503, "read-only"
    return 200, "synced"


def serve(bind: str, port: int, node: Node) -> ThreadingHTTPServer:
    class Handler(BaseHTTPRequestHandler):
        def do_GET(self):  # noqa: N802 - the http.server API
            code, reason = node.verdict()
            body = f"Galera node {reason}\n".encode()
            self.send_response(code)
            self.send_header("Content-Type", "text/plain; charset=utf-8")
            self.send_header("Content-Length", str(len(body)))
            self.send_header("Connection", "close")
            self.end_headers()
            self.wfile.write(body)

        do_HEAD = do_GET  # noqa: N815

        def log_message(self, *args):  # HAProxy checks every second: no access log
            return

    server = ThreadingHTTPServer((bind, port), Handler)
    server.daemon_threads = True
    return server


def main(argv: list[str] | None = None) -> None:
    env = os.environ.get
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--bind", default=env("GALERA_CHECK_BIND", "0.0.0.0"))  # noqa: S104
    parser.add_argument("--port", type=int, default=int(env("GALERA_CHECK_PORT", "9200")))
    parser.add_argument("--socket", default=env("GALERA_CHECK_SOCKET", ""))
    parser.add_argument("--host", default=env("GALERA_CHECK_HOST", "127.0.0.1"))
    parser.add_argument("--db-port", type=int, default=int(env("GALERA_CHECK_DB_PORT", "3306")))
    parser.add_argument("--user", default=env("GALERA_CHECK_USER", "haproxy_check"))
    args = parser.parse_args(argv)
    connect = {"user": args.user}
    if args.socket:
        connect["unix_socket"] = args.socket
    else:
        connect |= {"host": args.host, "port": args.db_port}
    server = serve(args.bind, args.port, Node(connect))
    server.serve_forever()


if __name__ == "__main__":
    main()
