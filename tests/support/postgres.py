"""A throwaway PostgreSQL server for the test session (real server, loopback only).

Finds the server binaries (``pg_config --bindir`` or Debian's
/usr/lib/postgresql/*/bin), runs ``initdb`` as the ``postgres`` user when we
are root (initdb refuses root), and starts it on a free port with its socket in
the data folder.  ``make test`` installs Debian's postgresql when missing.
"""

from __future__ import annotations

import contextlib
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import uuid
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psycopg

#: The server's superuser (initdb's), who owns the schema the suite migrates.
SUPERUSER = "postgres"
#: The role the suite connects as: no ownership, ledger read-and-append (reconsent/db_roles.py).
RUNTIME_ROLE = "reconsent_app"


def as_runtime(url: str) -> str:
    return url.replace(f"//{SUPERUSER}@", f"//{RUNTIME_ROLE}@", 1)


def owner_url(url: str) -> str:
    """The same database as its owner: for tests that play an insider with more than the
    runtime role's rights (tampering, DDL). A SQLite URL is returned as it is."""
    return url.replace(f"//{RUNTIME_ROLE}@", f"//{SUPERUSER}@", 1)


@dataclass(frozen=True)
class PostgresServer:
    host: str
    port: int
    user: str

    def url(self, database: str = "postgres") -> str:
        return f"postgresql+psycopg://{self.user}@{self.host}:{self.port}/{database}"


def find_bindir() -> Path | None:
    candidates: list[Path] = []
    if shutil.which("pg_config"):
        out = subprocess.run(["pg_config", "--bindir"], capture_output=True, text=True, check=False)
        if out.returncode == 0:
            candidates.append(Path(out.stdout.strip()))
    candidates += sorted(Path("/usr/lib/postgresql").glob("*/bin"), reverse=True)
    for path in candidates:
        if (path / "initdb").exists() and (path / "pg_ctl").exists():
            return path
    return None


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextlib.contextmanager
def running_postgres(settings: Sequence[str] = ()) -> Iterator[PostgresServer]:
    """A throwaway server; ``settings``: more ``name=value`` server settings (the
    benchmarks size ``shared_buffers`` for their base)."""
    bindir = find_bindir()
    if bindir is None:
        raise RuntimeError(
            "PostgreSQL server binaries not found: run `make test` (it installs them)"
        )
    root = Path(tempfile.mkdtemp(prefix="reconsent-pg-"))
    data = root / "data"
    prefix: list[str] = []
    if os.geteuid() == 0:
        entry = pwd.getpwnam("postgres")
        os.chown(root, entry.pw_uid, entry.pw_gid)
        prefix = ["runuser", "-u", "postgres", "--"]
    port = _free_port()
    env = {**os.environ, "LC_ALL": "C.UTF-8"}
    subprocess.run(
        [
            *prefix,
            str(bindir / "initdb"),
            "-D",
            str(data),
            "-A",
            "trust",
            "-U",
            "postgres",
            "-E",
            "UTF8",
            "--no-sync",
        ],
        check=True,
        capture_output=True,
        env=env,
    )
    options = (
        f"-h 127.0.0.1 -p {port} -k {root} -c fsync=off -c synchronous_commit=off "
        "-c full_page_writes=off -c max_connections=200"
    ) + "".join(f" -c {setting}" for setting in settings)
    subprocess.run(
        [
            *prefix,
            str(bindir / "pg_ctl"),
            "-D",
            str(data),
            "-o",
            options,
            "-l",
            str(root / "log"),
            "-w",
            "-t",
            "60",
            "start",
        ],
        check=True,
        capture_output=True,
        env=env,
    )
    try:
        yield PostgresServer("127.0.0.1", port, SUPERUSER)
    finally:
        subprocess.run(
            [*prefix, str(bindir / "pg_ctl"), "-D", str(data), "-m", "immediate", "-w", "stop"],
            check=False,
            capture_output=True,
            env=env,
        )
        shutil.rmtree(root, ignore_errors=True)


def database_at(request: Any, tmp_path: Path, revision: str) -> str:
    """The URL of a new database migrated to ``revision`` (for migration tests), as its
    owner: SQLite for the ``sqlite`` param, else a fresh database on ``pg_server``."""
    from reconsent.db import upgrade

    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'old.db'}"
    else:
        server: PostgresServer = request.getfixturevalue("pg_server")
        name = f"old_{uuid.uuid4().hex[:12]}"
        with psycopg.connect(server.url().replace("+psycopg", ""), autocommit=True) as conn:
            conn.execute(f"CREATE DATABASE {name}")
        url = server.url(name)
    upgrade(url, revision)
    return url
