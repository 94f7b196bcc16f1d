"""Identifying evidence sealed per subject, and crypto-shredding it.

Each subject whose events carry identifying evidence
(:mod:`reconsent.kernel.rules.identifying_evidence`) gets one random AES-256
data key, stored wrapped (AES-256-GCM) by the key of ``RECONSENT_EVIDENCE_KEY``,
which is kept outside the database (``evidence_keys``). An event's identifying
values are written as ``evidence["sealed"] = base64(nonce || AES-GCM(data key,
JSON of the values))``, bound to the subject and the event (associated data: a
sealed value copied to another event does not open). The ledger's hash (scheme
v3) covers the stored evidence, ciphertext included, so it never depends on the
key.

**Shredding** (:func:`shred_subject_keys`) nulls the wrapped key (a plain
UPDATE of ``evidence_keys``, never of the ledger): the ciphertext stays in the
append-only ledger, every hash and checkpoint still holds, and nobody can read
the values again. A shredded subject keeps its row, so no new key is ever made
for it: identifying values of a later event are dropped (``evidence_shredded``).
Backups keep a wrapped key until they expire; what the database holds is gone.
"""

from __future__ import annotations

import base64
import json
import os
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from sqlalchemy import Connection, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from models import EvidenceKey
from reconsent.kernel.errors import ConfigError
from reconsent.kernel.rules.identifying_evidence import SEALED_KEY, SHREDDED_KEY, split

__all__ = [
    "EvidenceReader",
    "EvidenceSealer",
    "SubjectKeys",
    "shred_subject_keys",
    "shredded_at",
]

_KEYS = EvidenceKey.metadata.tables[EvidenceKey.__tablename__]
_NONCE = 12
#: What an opened evidence object says when its sealed values cannot be read.
SEALED_UNREADABLE = "evidence_sealed"


def _key_aad(subject_id: str) -> bytes:
    return f"reconsent:evidence-key:{subject_id}".encode()


def _value_aad(subject_id: str, event_id: str) -> bytes:
    return f"reconsent:evidence:{subject_id}:{event_id}".encode()


@dataclass
class SubjectKeys:
    """The data keys of some subjects, unwrapped: ``None`` for a shredded subject."""

    wrapping: AESGCM
    keys: dict[str, bytes | None] = field(default_factory=dict)

    @classmethod
    def load(cls, conn: Connection, wrapping_key: bytes, subjects: Iterable[str]) -> SubjectKeys:
        found = cls(AESGCM(wrapping_key))
        found.read(conn, sorted(set(subjects)))
        return found

    def read(self, conn: Connection, subjects: list[str]) -> None:
        for start in range(0, len(subjects), 500):
            chunk = subjects[start : start + 500]
            rows = conn.execute(
                select(_KEYS.c.subject_id, _KEYS.c.wrapped_key).where(_KEYS.c.subject_id.in_(chunk))
            )
            for subject_id, wrapped in rows:
                self.keys[subject_id] = (
                    None if wrapped is None else self._unwrap(subject_id, wrapped)
                )

    def _unwrap(self, subject_id: str, wrapped: str) -> bytes:
        raw = base64.b64decode(wrapped)
        try:
            return self.wrapping.decrypt(raw[:_NONCE], raw[_NONCE:], _key_aad(subject_id))
        except InvalidTag:
            raise ConfigError(
                "RECONSENT_EVIDENCE_KEY is not the key the evidence keys were wrapped with "
                "(changed key, or another RECONSENT_DATA_DIR?): set the original key"
            ) from None

    def ensure(self, conn: Connection, subjects: Iterable[str], now: datetime) -> None:
        """Give every subject not known yet a new data key (one already there is kept:
        insert-or-nothing, then read back)."""
        missing = sorted({s for s in subjects if s not in self.keys})
        if not missing:
            return
        rows = []
        for subject_id in missing:
            nonce = os.urandom(_NONCE)
            wrapped = self.wrapping.encrypt(
                nonce, AESGCM.generate_key(bit_length=256), _key_aad(subject_id)
            )
            rows.append(
                {
                    "subject_id": subject_id,
                    "wrapped_key": base64.b64encode(nonce + wrapped).decode(),
                    "created_at": now,
                    "shredded_at": None,
                }
            )
        dialect = postgresql if conn.dialect.name == "postgresql" else sqlite
        conn.execute(dialect.insert(_KEYS).on_conflict_do_nothing(), rows)
        self.read(conn, missing)


@dataclass
class EvidenceSealer:
    """Seals the identifying values of the events one ``append_events`` call writes."""

    keys: SubjectKeys | None

    @classmethod
    def for_events(
        cls,
        conn: Connection,
        wrapping_key: bytes | None,
        evidence: Iterable[tuple[str, Mapping[str, Any]]],
        now: datetime,
    ) -> EvidenceSealer:
        """Load (or make) the keys of the subjects whose ``(subject_id, evidence)`` has
        identifying values; refused without a wrapping key (never written in clear)."""
        subjects = {subject for subject, values in evidence if split(values)[1]}
        if not subjects:
            return cls(None)
        if wrapping_key is None:
            raise ConfigError(
                "identifying consent evidence needs RECONSENT_EVIDENCE_KEY (the ledger "
                "context has no evidence key): nothing was written"
            )
        keys = SubjectKeys.load(conn, wrapping_key, subjects)
        keys.ensure(conn, subjects, now)
        return cls(keys)

    def seal(self, subject_id: str, event_id: str, evidence: dict[str, Any]) -> dict[str, Any]:
        """The evidence as stored: identifying values sealed (or dropped when the subject's
        key is shredded); evidence with none is returned as it is."""
        clear, identifying = split(evidence)
        if not identifying:
            return evidence
        assert self.keys is not None  # for_events loaded a key for every such subject
        data_key = self.keys.keys[subject_id]
        if data_key is None:
            return {**clear, SHREDDED_KEY: True}
        nonce = os.urandom(_NONCE)
        plain = json.dumps(identifying, sort_keys=True, separators=(",", ":")).encode()
        sealed = AESGCM(data_key).encrypt(nonce, plain, _value_aad(subject_id, event_id))
        return {**clear, SEALED_KEY: base64.b64encode(nonce + sealed).decode()}


class EvidenceReader:
    """Opens stored evidence for the proof and the person's own export."""

    def __init__(self, session: Session, wrapping_key: bytes | None) -> None:
        self._conn = session.connection()
        self._wrapping = wrapping_key
        self._keys: SubjectKeys | None = None

    def open(self, subject_id: str, event_id: str, stored: Mapping[str, Any]) -> dict[str, Any]:
        """The evidence with its sealed values restored; when they can no longer be read
        (the key shredded) ``evidence_shredded: true``; without the wrapping key, or for a
        sealed value that does not open (tampered), ``evidence_sealed: true``. Evidence
        written before sealing is returned as stored."""
        box = stored.get(SEALED_KEY)
        if not isinstance(box, str):
            return dict(stored)
        clear = {k: v for k, v in stored.items() if k != SEALED_KEY}
        if self._wrapping is None:
            return {**clear, SEALED_UNREADABLE: True}
        if self._keys is None:
            self._keys = SubjectKeys(AESGCM(self._wrapping))
        if subject_id not in self._keys.keys:
            self._keys.read(self._conn, [subject_id])
        data_key = self._keys.keys.get(subject_id)
        if data_key is None:
            return {**clear, SHREDDED_KEY: True}
        raw = base64.b64decode(box)
        try:
            plain = AESGCM(data_key).decrypt(
                raw[:_NONCE], raw[_NONCE:], _value_aad(subject_id, event_id)
            )
        except InvalidTag:  # changed or moved from another event: verify names it too
            return {**clear, SEALED_UNREADABLE: True}
        return {**clear, **json.loads(plain)}


def shredded_at(session: Session, subject_id: str) -> datetime | None:
    """When the subject's evidence key was shredded (None: it was not)."""
    return session.scalar(select(_KEYS.c.shredded_at).where(_KEYS.c.subject_id == subject_id))


def shred_subject_keys(session: Session, subject_ids: Iterable[str], now: datetime) -> int:
    """Delete the data keys of ``subject_ids`` (their sealed evidence becomes unreadable for
    good) and mark subjects without one, so none is ever made. How many keys were deleted."""
    subjects = sorted(set(subject_ids))
    shredded = 0
    dialect = postgresql if session.get_bind().dialect.name == "postgresql" else sqlite
    for start in range(0, len(subjects), 500):
        chunk = subjects[start : start + 500]
        result = session.execute(
            update(_KEYS)
            .where(_KEYS.c.subject_id.in_(chunk), _KEYS.c.wrapped_key.is_not(None))
            .values(wrapped_key=None, shredded_at=now)
        )
        shredded += result.rowcount or 0  # type: ignore[attr-defined]  # CursorResult
        session.execute(
            dialect.insert(_KEYS).on_conflict_do_nothing(),
            [
                {"subject_id": s, "wrapped_key": None, "created_at": now, "shredded_at": now}
                for s in chunk
            ],
        )
    return shredded
