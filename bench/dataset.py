"""A synthetic contact base at planning scale, bulk-loaded straight into the tables.

1,000,000 contacts, ~1.5M consent-status rows over the wave's three purposes and
one other, 50,000 suppression hashes (the shape of shared/domain.md's planning
facts). Loading bypasses the ledger (planning reads contacts, the consent-status
projection and suppressions only), with foreign-key checks off during the load.
"""

from __future__ import annotations

import hashlib
import random
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import Engine, text

NOW = datetime(2026, 12, 1, 10, 0, tzinfo=UTC)
PURPOSES = ("marketing_email", "marketing_sms", "marketing_phone", "profiling")


#: The channel each marketing purpose is bound to (SMS and calls need a consent to it).
_CHANNELS = {"marketing_email": "email", "marketing_sms": "sms", "marketing_phone": "ivr"}


def _h(value: str) -> str:
    return hashlib.sha256(value.encode()).hexdigest()


def _ts(value: datetime, sqlite: bool) -> Any:
    return value.replace(tzinfo=None).isoformat(sep=" ") if sqlite else value


def generate(
    n: int, seed: int = 5, hasher: Callable[[str], str] = _h
) -> tuple[list[tuple[Any, ...]], list[tuple[Any, ...]], list[tuple[Any, ...]]]:
    """``hasher``: the address hash (default a plain SHA-256; the operator API's benchmark
    passes the product's keyed hash, so a lookup by number finds its contact)."""
    rng = random.Random(seed)
    contacts, statuses, suppressions = [], [], []
    for i in range(1, n + 1):
        email = f"user{i}@example.com" if rng.random() < 0.92 else None
        phone = f"+3933{i:08d}" if rng.random() < 0.8 else None
        contacts.append(
            (
                i,
                f"X{i}",
                str(uuid.UUID(int=rng.getrandbits(128))),
                "Anna",
                "Rossi",
                email,
                hasher(email) if email else None,
                phone,
                hasher(phone) if phone else None,
                "it",
                "Europe/Rome",
            )
        )
        kind = rng.random()
        if kind < 0.12:
            continue  # missing: no record at all
        if kind < 0.22:
            rows = [
                (p, "given", NOW - timedelta(days=rng.randint(10, 300)), "2026-09")
                for p in (1, 2, 3)
            ]
        elif kind < 0.86:
            count = rng.choice((1, 1, 2))
            rows = [
                (p, "given", NOW - timedelta(days=rng.randint(400, 1500)), "2024-01")
                for p in rng.sample((1, 2, 3, 4), count)
            ]
        elif kind < 0.93:
            rows = [(1, "given", NOW - timedelta(days=rng.randint(10, 300)), "2024-01")]
        elif kind < 0.965:
            rows = [
                (
                    rng.randint(1, 4),
                    "refused",
                    NOW - timedelta(days=rng.randint(10, 900)),
                    "2024-01",
                )
            ]
        else:
            rows = [(1, "withdrawn", NOW - timedelta(days=rng.randint(10, 900)), "2024-01")]
        for purpose, state, at, notice in rows:
            expires = at + timedelta(days=730) if state == "given" else None
            statuses.append((i, purpose, state, at, expires, notice, True, 0))
    for j in range(50_000):
        target = rng.randint(1, n)
        email = contacts[target - 1][5]
        digest = hasher(email) if email and j % 5 else hasher(f"gone{j}@example.org")
        channel = None if j % 3 == 0 else "email"
        suppressions.append((j + 1, digest, channel, "objection" if channel is None else "bounce"))
    return contacts, statuses, suppressions


def load(
    engine: Engine, n: int, seed: int = 5, hasher: Callable[[str], str] = _h
) -> dict[str, int]:
    contacts, statuses, suppressions = generate(n, seed, hasher)
    sqlite = engine.dialect.name == "sqlite"
    created = _ts(NOW, sqlite)
    with engine.begin() as conn:
        raw = conn.connection.dbapi_connection
        assert raw is not None
        cur = raw.cursor()
        if sqlite:
            cur.execute("PRAGMA foreign_keys=OFF")
        else:
            cur.execute("SET session_replication_role = replica")  # skip FK triggers for the load
        for pid, code in enumerate(PURPOSES, start=1):
            conn.execute(
                text(
                    "INSERT INTO purposes (id, code, category, channel, lawful_basis, lifetime_months, titles,"
                    " descriptions, created_at) VALUES (:id, :code, 'marketing', :channel, 'consent',"
                    " 24, '{}', '{}', :at)"
                ),
                {"id": pid, "code": code, "channel": _CHANNELS.get(code), "at": NOW},
            )
        for locale in ("it", "en"):
            conn.execute(
                text(
                    "INSERT INTO notices (version, locale, title, body_html, digest, published_at,"
                    " effective_from) VALUES ('2026-09', :l, 't', 'b', 'd', :at, :at)"
                ),
                {"l": locale, "at": NOW},
            )
        contact_rows = [(*c, created, created) for c in contacts]
        status_rows = [
            (c, p, s, _ts(at, sqlite), _ts(ex, sqlite) if ex else None, nv, pr, le)
            for c, p, s, at, ex, nv, pr, le in statuses
        ]
        supp_rows = [(i, h, ch, r, "bench", created) for i, h, ch, r in suppressions]
        if sqlite:
            cur.executemany(
                "INSERT INTO contacts (id, external_id, subject_id, given_name, family_name, email,"
                " email_hash, phone, phone_hash, locale, timezone, created_at, updated_at)"
                " VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?)",
                contact_rows,
            )
            cur.executemany(
                "INSERT INTO consent_status (contact_id, purpose_id, state, occurred_at, expires_at,"
                " notice_version, provable, last_event_id) VALUES (?,?,?,?,?,?,?,?)",
                status_rows,
            )
            cur.executemany(
                "INSERT INTO suppressions (id, address_hash, channel, reason, source, created_at)"
                " VALUES (?,?,?,?,?,?)",
                supp_rows,
            )
        else:
            for table, columns, rows in (
                (
                    "contacts",
                    "id, external_id, subject_id, given_name, family_name, email, email_hash,"
                    " phone, phone_hash, locale, timezone, created_at, updated_at",
                    contact_rows,
                ),
                (
                    "consent_status",
                    "contact_id, purpose_id, state, occurred_at, expires_at,"
                    " notice_version, provable, last_event_id",
                    status_rows,
                ),
                (
                    "suppressions",
                    "id, address_hash, channel, reason, source, created_at",
                    supp_rows,
                ),
            ):
                with cur.copy(f"COPY {table} ({columns}) FROM STDIN") as copy:
                    for row in rows:
                        copy.write_row(row)
            cur.execute("SET session_replication_role = DEFAULT")
            cur.execute("SELECT setval('contacts_id_seq', (SELECT max(id) FROM contacts))")
            cur.execute("SELECT setval('suppressions_id_seq', (SELECT max(id) FROM suppressions))")
        if sqlite:
            cur.execute("PRAGMA foreign_keys=ON")
    with engine.begin() as conn:
        conn.execute(text("ANALYZE"))
    return {
        "contacts": len(contacts),
        "consent_rows": len(statuses),
        "suppressions": len(suppressions),
    }
