"""A real ``prefect server start`` on PostgreSQL, for the tests of many workers.

The suite's usual Prefect server (``prefect_test_harness``) keeps its state in SQLite;
a production set-up with several workers runs Prefect on PostgreSQL, and so does this
one: a database of its own on the suite's PostgreSQL server, the server in a
subprocess on a free port, its home and result storage in a temporary folder that the
workers share (as machines would share a mounted folder or a storage block).
"""

from __future__ import annotations

import contextlib
import os
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import psycopg

from tests.support.postgres import PostgresServer

__all__ = ["PrefectServer", "prefect_on_postgres", "task_workers"]


@dataclass(frozen=True)
class PrefectServer:
    api_url: str
    home: Path
    database_url: str
    log: Path

    def env(self) -> dict[str, str]:
        """What a client, a worker or a tick of this server needs in its environment."""
        return {
            "PREFECT_API_URL": self.api_url,
            "PREFECT_HOME": str(self.home),
            "PREFECT_LOCAL_STORAGE_PATH": str(self.home / "storage"),
            "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
            "DO_NOT_TRACK": "1",
        }


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _healthy(url: str) -> bool:
    try:
        return httpx.get(f"{url}/health", timeout=2).status_code == 200
    except httpx.HTTPError:
        return False


@contextlib.contextmanager
def prefect_on_postgres(
    pg: PostgresServer, root: Path, startup_timeout: float = 180
) -> Iterator[PrefectServer]:
    """Yield a Prefect server whose database is a fresh one on ``pg``."""
    name = f"prefect_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(pg.url().replace("+psycopg", ""), autocommit=True) as conn:
        conn.execute(f"CREATE DATABASE {name}")
    port = _free_port()
    server = PrefectServer(
        api_url=f"http://127.0.0.1:{port}/api",
        home=root / "prefect-home",
        database_url=pg.url(name).replace("+psycopg", "+asyncpg"),
        log=root / "prefect-server.log",
    )
    env = {
        **os.environ,
        **server.env(),
        "PREFECT_SERVER_DATABASE_CONNECTION_URL": server.database_url,
    }
    prefect = str(Path(sys.executable).with_name("prefect"))
    with server.log.open("wb") as log:
        process = subprocess.Popen(
            [prefect, "server", "start", "--host", "127.0.0.1", "--port", str(port)],
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        try:
            deadline = time.monotonic() + startup_timeout
            while not _healthy(server.api_url):
                if process.poll() is not None:
                    raise RuntimeError(f"prefect server exited; see {server.log}")
                if time.monotonic() > deadline:
                    raise RuntimeError(f"prefect server not healthy; see {server.log}")
                time.sleep(0.25)  # polling a subprocess's health (no event to wait on)
            yield server
        finally:
            process.terminate()
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


@contextlib.contextmanager
def task_workers(
    env: dict[str, str], count: int, limit: int, logs: Path, timeout: float = 120
) -> Iterator[list[Path]]:
    """``count`` ``reconsent worker --limit LIMIT`` processes, every one subscribed to
    the server before the block starts; yields their log files, stops them after."""
    from flows.wave_tick import advance_batch_task

    reconsent = str(Path(sys.executable).with_name("reconsent"))
    root = Path(__file__).resolve().parents[2]
    files = [logs / f"task-worker-{uuid.uuid4().hex[:6]}.log" for _ in range(count)]
    outs = [path.open("wb") for path in files]  # files: a full pipe would stall a worker
    procs = [
        subprocess.Popen(
            [reconsent, "worker", "--limit", str(limit)],
            env=env,
            cwd=root,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
        for out in outs
    ]
    query = {"task_worker_filter": {"task_keys": [advance_batch_task.task_key]}}
    try:
        deadline = time.monotonic() + timeout
        while (
            len(httpx.post(f"{env['PREFECT_API_URL']}/task_workers/filter", json=query).json())
            < count
        ):
            if any(p.poll() is not None for p in procs) or time.monotonic() > deadline:
                raise RuntimeError(f"task workers not listening; see {files}")
            time.sleep(0.25)  # polling the server's list of task workers
        yield files
    finally:
        for proc in procs:
            proc.terminate()
        for proc, out in zip(procs, outs, strict=True):
            try:
                proc.wait(timeout=60)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
            out.close()
