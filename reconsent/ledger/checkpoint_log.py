"""The suppression log under the signed checkpoints.

The gate trusts the suppression list, and verify holds the list to its log
(:mod:`reconsent.ledger.suppression_check`); someone with the schema owner's
rights could still rewrite list and log together. A checkpoint therefore also
signs the log as it stood: ``<stem>.suppressions`` holds one line per log entry
up to the mark, ``<log id> TAB <suppression id> TAB <SHA-256 of the entry>``,
and the statement its highest id, its line count and the file's SHA-256. Verify
recomputes each entry up to that id and names every one changed, removed or
inserted into the signed past by its suppression id.

An entry's digest is over one canonical line (tab-separated, UTF-8): id, action,
suppression id, contact id, address hash, channel, reason, source, time
(ISO 8601, UTC, microseconds); empty for NULL.
"""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, Engine, func, select

from models import SuppressionLogEntry

__all__ = ["compare_log", "log_lines", "log_mark"]


def log_mark(conn: Connection) -> int:
    """The highest suppression log id (call under the writers' lock)."""
    log = SuppressionLogEntry
    return int(conn.execute(select(func.coalesce(func.max(log.id), 0))).scalar_one())


def _field(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, datetime):
        moment = value if value.tzinfo else value.replace(tzinfo=UTC)
        return moment.astimezone(UTC).isoformat(timespec="microseconds")
    return str(getattr(value, "value", value))


def _entries(engine: Engine, mark: int) -> dict[int, tuple[int, str]]:
    """Each log entry up to ``mark``: its suppression id and its digest."""
    log = SuppressionLogEntry
    columns = (
        log.id,
        log.action,
        log.suppression_id,
        log.contact_id,
        log.address_hash,
        log.channel,
        log.reason,
        log.source,
        log.at,
    )
    found: dict[int, tuple[int, str]] = {}
    with engine.connect() as conn:
        for row in conn.execute(select(*columns).where(log.id <= mark).order_by(log.id)):
            line = "\t".join(_field(v) for v in row).encode()
            found[int(row.id)] = (int(row.suppression_id), hashlib.sha256(line).hexdigest())
    return found


def log_lines(engine: Engine, mark: int) -> bytes:
    """The ``.suppressions`` file of a checkpoint at log id ``mark``."""
    return b"".join(
        f"{entry}\t{sid}\t{digest}\n".encode()
        for entry, (sid, digest) in sorted(_entries(engine, mark).items())
    )


def compare_log(engine: Engine, statement: dict[str, Any], lines_path: Path) -> list[str]:
    """What differs between the signed log (its file already checked against the
    statement) and the database's, one line per suppression named."""
    mark = int(statement["last_log_id"])
    signed: dict[int, tuple[int, str]] = {}
    for raw in lines_path.read_bytes().splitlines():
        number, suppression, digest = raw.decode().split("\t")
        signed[int(number)] = (int(suppression), digest)
    actual = _entries(engine, mark)
    name = lines_path.with_suffix(".json").name
    found: list[str] = []
    for entry, (sid, digest) in sorted(signed.items()):
        now = actual.get(entry)
        if now is None:
            found.append(f"{name}: suppression {sid}: log entry #{entry} is gone")
        elif now != (sid, digest):
            found.append(f"{name}: suppression {sid}: log entry #{entry} was rewritten")
    for entry in sorted(set(actual) - set(signed)):
        found.append(
            f"{name}: suppression {actual[entry][0]}: log entry #{entry} was inserted "
            f"into the signed past (up to #{mark})"
        )
    return found
