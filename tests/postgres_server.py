"""A throwaway PostgreSQL server on 127.0.0.1 for tests, from the server binaries on disk."""

from __future__ import annotations

import os
import pwd
import shutil
import socket
import subprocess
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

BIN = Path(os.environ.get("PEBENCH_PG_BIN", "/usr/lib/postgresql/15/bin"))
#: url → (command runner, data directory, server options, log file) of running servers
_SERVERS: dict[str, tuple] = {}


def available() -> str | None:
    """None when a server can be started here, else the reason it cannot."""
    if not (BIN / "initdb").is_file():
        return f"PostgreSQL server binaries not found in {BIN}"
    if os.geteuid() == 0:
        try:
            pwd.getpwnam("postgres")
        except KeyError:
            return "running as root and there is no 'postgres' user to run the server"
    return None


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextmanager
def postgres_server() -> Iterator[str]:
    """Start a server in a temp directory; yields a psycopg2 URL of an empty database."""
    import psycopg2

    root = Path(tempfile.mkdtemp(prefix="pebench-pg-"))
    prefix: list[str] = []
    if os.geteuid() == 0:  # initdb refuses to run as root
        user = pwd.getpwnam("postgres")
        os.chown(root, user.pw_uid, user.pw_gid)
        prefix = ["runuser", "-u", "postgres", "--"]
    port = _free_port()
    data = root / "data"
    run = lambda *args: subprocess.run([*prefix, *args], check=True, capture_output=True)  # noqa: E731
    run(str(BIN / "initdb"), "-D", str(data), "-U", "postgres", "--auth=trust", "-E", "UTF8")
    options = f"-p {port} -k {root} -c listen_addresses=127.0.0.1 -c fsync=off"
    run(str(BIN / "pg_ctl"), "-D", str(data), "-o", options, "-l", str(root / "log"), "-w", "start")
    try:
        conn = psycopg2.connect(host="127.0.0.1", port=port, user="postgres", dbname="postgres")
        conn.autocommit = True
        conn.cursor().execute("CREATE DATABASE optuna")
        conn.close()
        url = f"postgresql://postgres@127.0.0.1:{port}/optuna"
        _SERVERS[url] = (run, data, options, root / "log")
        yield url
    finally:
        _SERVERS.pop(f"postgresql://postgres@127.0.0.1:{port}/optuna", None)
        run(str(BIN / "pg_ctl"), "-D", str(data), "-m", "immediate", "stop")
        shutil.rmtree(root, ignore_errors=True)


def stop(url: str) -> None:
    """Stop the server of ``url`` at once (its connections cut)."""
    run, data, _, _ = _SERVERS[url]
    run(str(BIN / "pg_ctl"), "-D", str(data), "-m", "immediate", "stop")


def start(url: str) -> None:
    """Start the stopped server of ``url`` again, on the same port."""
    run, data, options, log = _SERVERS[url]
    run(str(BIN / "pg_ctl"), "-D", str(data), "-o", options, "-l", str(log), "-w", "start")


def outage(url: str, seconds: float) -> None:
    """Stop the server of ``url`` (connections cut), wait, and start it again."""
    import time

    stop(url)
    time.sleep(seconds)
    start(url)
