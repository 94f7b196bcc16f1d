"""Signed ledger checkpoints: the ledger's state, anchored outside the database.

A hash chain proves nothing against someone who can rewrite it whole and
recompute every hash. ``take_checkpoint`` writes three files to a folder the
database cannot reach (WORM storage, the DPO's mailbox):

* ``<stem>.heads``: one line ``<subject_id> TAB <head hash>`` per subject, the
  hash of its last event with an id at or below the mark, lines sorted;
* ``<stem>.suppressions``: the suppression log up to its highest id, one digest
  per entry (:mod:`reconsent.ledger.checkpoint_log`);
* ``<stem>.json``: the statement (canonical JSON): the mark (highest event id),
  how many events and subjects it covers, the time, the RFC 6962 Merkle root
  of the heads file's lines and that file's SHA-256, the public key, and the
  previous checkpoint in the folder (its file and SHA-256); from format 2 the
  suppression log's highest id, its entry count and that file's SHA-256;
* ``<stem>.sig``: the base64 Ed25519 signature of the statement file's bytes.

``verify_with_checkpoints`` checks each statement's signature, its heads file
and its link to the one before, then walks the ledger once (with the usual
hash and projection checks) and holds each subject's head at every mark equal
to the signed one: a rewritten, deleted, inserted or moved event at or below a
mark changes a head, and the subject is named.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, func, select, text
from sqlalchemy.exc import OperationalError

from models import ConsentEvent
from reconsent.kernel.errors import CheckpointError, ConfigError
from reconsent.kernel.rules.merkle import head_lines, merkle_root, parse_head_line
from reconsent.ledger.append import WRITERS_LOCK
from reconsent.ledger.checkpoint_log import compare_log, log_lines, log_mark
from reconsent.ledger.checkpoint_signing import public_key_of, sign, signature_holds
from reconsent.ledger.verify import Break, VerifyReport, verify_ledger_parallel

STATEMENT = "reconsent ledger checkpoint"
TREE = "RFC 6962 Merkle tree, SHA-256; leaves: the heads file's lines, sorted, without newline"
PREFIX = "checkpoint-"
#: How long a checkpoint waits for the writers in flight (PostgreSQL) before giving up:
#: new writers queue behind it meanwhile, so a moment only (a long import holding the
#: ledger makes it give up; the sweep tries again at its next run).
LOCK_TIMEOUT = "5s"


@dataclass(frozen=True)
class Checkpoint:
    """A statement read back from its folder (its signature and heads file checked)."""

    path: Path
    statement: dict[str, Any]

    @property
    def name(self) -> str:
        return self.path.name

    @property
    def last_event_id(self) -> int:
        return int(self.statement["last_event_id"])

    @property
    def heads_path(self) -> Path:
        return self.path.with_name(str(self.statement["heads_file"]))


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _canonical(statement: dict[str, Any]) -> bytes:
    return json.dumps(statement, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def _mark(engine: Engine) -> tuple[int, int]:
    """The highest event id and suppression log id below which nothing is still being
    written (the log's triggers take the writers' lock too)."""
    with engine.begin() as conn:
        if conn.dialect.name == "postgresql":
            conn.execute(text(f"SET LOCAL lock_timeout = '{LOCK_TIMEOUT}'"))
            try:
                conn.execute(text("SELECT pg_advisory_xact_lock(" + WRITERS_LOCK + ")"))
            except OperationalError as exc:
                if getattr(exc.orig, "sqlstate", None) != "55P03":  # lock_not_available
                    raise
                raise CheckpointError(
                    f"the ledger's writers did not finish within {LOCK_TIMEOUT}: try again"
                ) from None
        # SQLite has one writer at a time: every id a reader sees the maximum of is committed.
        events = conn.execute(select(func.coalesce(func.max(ConsentEvent.id), 0))).scalar_one()
        return int(events), log_mark(conn)


def chain_heads(engine: Engine, mark: int) -> tuple[list[tuple[str, str]], int]:
    """Each subject's head at ``mark`` (the hash of its last event with id <= mark),
    and the number of events up to it."""
    last = (
        select(func.max(ConsentEvent.id))
        .where(ConsentEvent.id <= mark)
        .group_by(ConsentEvent.subject_id)
    )
    with engine.connect() as conn:
        heads = [
            (subject, digest)
            for subject, digest in conn.execute(
                select(ConsentEvent.subject_id, ConsentEvent.hash).where(ConsentEvent.id.in_(last))
            )
        ]
        events = conn.execute(
            select(func.count()).select_from(ConsentEvent).where(ConsentEvent.id <= mark)
        ).scalar_one()
    return heads, int(events)


def _statements(directory: Path) -> list[Path]:
    return sorted(directory.glob(f"{PREFIX}*.json"))


def take_checkpoint(
    engine: Engine, directory: Path, key_b64: str, now: datetime, controller: str
) -> Checkpoint:
    """Write a signed checkpoint of the ledger as it stands into ``directory``."""
    public = public_key_of(key_b64)  # a bad key fails before anything is read or written
    directory.mkdir(parents=True, exist_ok=True)
    mark, log_id = _mark(engine)
    heads, events = chain_heads(engine, mark)
    log_body = log_lines(engine, log_id)
    lines = head_lines(heads)
    body = b"".join(line + b"\n" for line in lines)
    stem = f"{PREFIX}{now.astimezone(UTC):%Y%m%dT%H%M%SZ}-{mark}"
    earlier = [p for p in _statements(directory) if p.name != f"{stem}.json"]
    previous = (
        {"file": earlier[-1].name, "sha256": _sha256(earlier[-1].read_bytes())} if earlier else None
    )
    statement: dict[str, Any] = {
        "statement": STATEMENT,
        "format": 2,
        "taken_at": now.astimezone(UTC).isoformat(timespec="seconds").replace("+00:00", "Z"),
        "controller": controller,
        "last_event_id": mark,
        "events": events,
        "subjects": len(lines),
        "heads_file": f"{stem}.heads",
        "heads_sha256": _sha256(body),
        "heads_root": merkle_root(lines),
        "tree": TREE,
        "public_key": public,
        "previous": previous,
        "last_log_id": log_id,
        "log_entries": log_body.count(b"\n"),
        "suppressions_file": f"{stem}.suppressions",
        "suppressions_sha256": _sha256(log_body),
    }
    data = _canonical(statement) + b"\n"
    signature = sign(data, key_b64)
    _write_new(directory / f"{stem}.heads", body)
    _write_new(directory / f"{stem}.suppressions", log_body)
    _write_new(directory / f"{stem}.sig", signature.encode() + b"\n")
    _write_new(directory / f"{stem}.json", data)  # last: a statement is complete when seen
    return Checkpoint(directory / f"{stem}.json", statement)


def take_daily_checkpoint(
    engine: Engine, directory: Path, key_b64: str, now: datetime, controller: str
) -> Checkpoint | None:
    """Today's checkpoint (UTC day), unless the folder has one already (the sweep's)."""
    if directory.exists() and any(directory.glob(f"{PREFIX}{now.astimezone(UTC):%Y%m%d}T*.json")):
        return None
    return take_checkpoint(engine, directory, key_b64, now, controller)


def _write_new(path: Path, data: bytes) -> None:
    """Write a file that must not exist yet, whole or not at all (rename into place)."""
    if path.exists():
        raise CheckpointError(f"{path} exists already: a checkpoint is never overwritten")
    partial = path.with_name(f".{path.name}.partial")
    partial.write_bytes(data)
    partial.replace(path)


def read_checkpoints(
    directory: Path, public_key: str | None
) -> tuple[list[Checkpoint], list[Break]]:
    """The checkpoints of ``directory`` whose signature and heads file hold, and a
    ``checkpoint_invalid`` break for every one that does not (or whose predecessor
    is missing). ``public_key`` None: each statement's own key (proves less)."""
    paths = _statements(directory)
    if not paths:
        raise ConfigError(f"no checkpoint ({PREFIX}*.json) in {directory}")
    good: list[Checkpoint] = []
    problems: list[Break] = []
    for path in paths:
        try:
            checkpoint, problem = _read_one(path, public_key)
        except (OSError, ValueError, KeyError, TypeError) as exc:
            checkpoint, problem = None, f"unreadable ({type(exc).__name__}: {exc})"
        if problem is not None:
            problems.append(Break("-", "-", "checkpoint_invalid", f"{path.name}: {problem}"))
        elif checkpoint is not None:
            good.append(checkpoint)
    return good, problems


def _read_one(path: Path, public_key: str | None) -> tuple[Checkpoint | None, str | None]:
    data = path.read_bytes()
    statement = json.loads(data)
    if not isinstance(statement, dict) or statement.get("statement") != STATEMENT:
        return None, "not a reconsent ledger checkpoint"
    key = public_key or str(statement.get("public_key", ""))
    sig_path = path.with_suffix(".sig")
    if not sig_path.exists():
        return None, "no signature file: unsigned"
    if not signature_holds(data, sig_path.read_text(encoding="ascii"), key):
        return None, "the signature does not hold for " + (
            "the public key given" if public_key else "the key it names"
        )
    checkpoint = Checkpoint(path, statement)
    body = checkpoint.heads_path.read_bytes()
    if _sha256(body) != statement["heads_sha256"]:
        return None, f"{checkpoint.heads_path.name} is not the heads file it signed"
    if merkle_root(body.splitlines()) != statement["heads_root"]:
        return None, "its heads do not give the Merkle root it signed"
    log_file = statement.get("suppressions_file")  # format 2 on
    if log_file is not None:
        log_body = path.with_name(str(log_file)).read_bytes()
        if _sha256(log_body) != statement["suppressions_sha256"]:
            return None, f"{log_file} is not the suppression log file it signed"
    previous = statement.get("previous")
    if previous is not None:
        before = path.with_name(str(previous["file"]))
        if not before.exists() or _sha256(before.read_bytes()) != previous["sha256"]:
            return None, f"the checkpoint before it, {previous['file']}, is missing or changed"
    return checkpoint, None


def verify_with_checkpoints(
    url: str,
    directory: Path,
    public_key: str | None,
    workers: int | None = None,
    *,
    min_events: int = 50_000,
) -> VerifyReport:
    """``verify_ledger_parallel``, and every checkpointed prefix held equal to its
    signed heads; each difference is a ``checkpoint_mismatch`` naming the subject."""
    from reconsent.db import make_engine

    checkpoints, problems = read_checkpoints(directory, public_key)
    marks = sorted({c.last_event_id for c in checkpoints})
    report = verify_ledger_parallel(url, workers, min_events=min_events, marks=marks)
    report.breaks.extend(problems)
    engine = make_engine(url)
    try:
        for checkpoint in checkpoints:
            if report.truncated:  # heads are incomplete: the breaks already say enough
                break
            found = _compare(checkpoint, marks.index(checkpoint.last_event_id), report)
            report.breaks.extend(_named(engine, found))
            log_found = _compare_log(engine, checkpoint)
            report.breaks.extend(Break("-", "-", "checkpoint_mismatch", d) for d in log_found)
            report.checkpoints.append(
                {
                    "file": checkpoint.name,
                    "last_event_id": checkpoint.last_event_id,
                    "taken_at": checkpoint.statement.get("taken_at"),
                    "ok": not found and not log_found,
                }
            )
    finally:
        engine.dispose()
    return report


#: A difference found: the subject, the ledger's head hash there (None: no head), what.
_Found = tuple[str, str | None, str]


def _compare(checkpoint: Checkpoint, k: int, report: VerifyReport) -> list[_Found]:
    """The differences between the signed heads at mark ``k`` and the walk's."""
    mark, name = checkpoint.last_event_id, checkpoint.name
    found: list[_Found] = []
    signed_events = int(checkpoint.statement["events"])
    if report.mark_counts[k] != signed_events:
        found.append(
            (
                "-",
                None,
                f"{name}: signed {signed_events} events up to #{mark}, "
                f"the ledger has {report.mark_counts[k]}",
            )
        )
    seen: set[str] = set()
    for line in checkpoint.heads_path.read_bytes().splitlines():
        subject, signed = parse_head_line(line)
        seen.add(subject)
        actual = _head_at(report.heads.get(subject, ()), k)
        if actual is None:
            found.append(
                (
                    subject,
                    None,
                    f"{name}: the subject's events up to #{mark} are gone from the ledger "
                    "(deleted, or moved to another subject)",
                )
            )
        elif actual != signed:
            found.append(
                (
                    subject,
                    actual,
                    f"{name}: the chain up to #{mark} was rewritten (signed head "
                    f"{signed[:12]}, the ledger's {actual[:12]})",
                )
            )
    for subject, entries in report.heads.items():
        if entries[0][0] <= k and subject not in seen:
            found.append(
                (
                    subject,
                    _head_at(entries, k),
                    f"{name}: the ledger has events of this subject up to #{mark} "
                    "that the checkpoint does not (inserted into the signed past)",
                )
            )
    return found


def _compare_log(engine: Engine, checkpoint: Checkpoint) -> list[str]:
    log_file = checkpoint.statement.get("suppressions_file")
    if log_file is None:  # format 1: the ledger only
        return []
    return compare_log(engine, checkpoint.statement, checkpoint.path.with_name(str(log_file)))


def _head_at(entries: Iterable[tuple[int, str]], k: int) -> str | None:
    head: str | None = None
    for first, digest in entries:
        if first > k:
            break
        head = digest
    return head


def _named(engine: Engine, found: list[_Found]) -> list[Break]:
    """The breaks, each naming the ledger's head event at the mark where there is one."""
    hashes = sorted({digest for _, digest, _ in found if digest is not None})[:1000]
    ids: dict[str, str] = {}
    if hashes:
        with engine.connect() as conn:
            ids = {
                digest: event_id
                for digest, event_id in conn.execute(
                    select(ConsentEvent.hash, ConsentEvent.event_id).where(
                        ConsentEvent.hash.in_(hashes)
                    )
                )
            }
    return [
        Break(subject, ids.get(digest or "", "-"), "checkpoint_mismatch", detail)
        for subject, digest, detail in found
    ]
