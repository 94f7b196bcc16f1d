"""``Idempotency-Key``: a write retried with the same key is answered once.

The key's row is inserted first, in the write's own unit of work
(``INSERT ... ON CONFLICT DO NOTHING``): a retry running at the same moment
waits on the unique index until the first commits, then finds its answer; if
the first rolled back, the retry does the work itself. The same key with
another request (method, path, body) is a :class:`ConflictError`.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from models import IdempotentRequest
from reconsent.db import insert_ignoring_conflicts
from reconsent.kernel.errors import ConflictError

__all__ = ["Answer", "claim_key", "request_digest", "store_answer"]

_TABLE = IdempotentRequest.metadata.tables[IdempotentRequest.__tablename__]


@dataclass(frozen=True)
class Answer:
    status_code: int
    body: dict[str, Any]


def request_digest(method: str, path: str, body: bytes) -> str:
    return hashlib.sha256(method.encode() + b" " + path.encode() + b"\n" + body).hexdigest()


def claim_key(
    session: Session, key_id: int, idempotency_key: str, digest: str, now: datetime
) -> Answer | None:
    """None: this request is the first with the key (do the work, then
    :func:`store_answer`); else the answer stored by the first."""
    if not idempotency_key or len(idempotency_key) > 200:
        raise ConflictError("an Idempotency-Key has 1 to 200 characters")
    # RETURNING, not rowcount: psycopg reports -1 for this INSERT through SQLAlchemy 2.1.
    inserted = session.scalar(
        insert_ignoring_conflicts(session, _TABLE)
        .values(
            key_id=key_id,
            idempotency_key=idempotency_key,
            request_sha256=digest,
            status_code=0,
            response={},
            created_at=now,
        )
        .returning(_TABLE.c.id)
    )
    if inserted is not None:
        return None
    row = session.execute(
        select(
            IdempotentRequest.request_sha256, IdempotentRequest.status_code, _TABLE.c.response
        ).where(
            IdempotentRequest.key_id == key_id,
            IdempotentRequest.idempotency_key == idempotency_key,
        )
    ).one()
    if row.request_sha256 != digest:
        raise ConflictError("this Idempotency-Key was used with another request")
    return Answer(row.status_code, dict(row.response))


def store_answer(session: Session, key_id: int, idempotency_key: str, answer: Answer) -> None:
    session.execute(
        update(IdempotentRequest)
        .where(
            IdempotentRequest.key_id == key_id,
            IdempotentRequest.idempotency_key == idempotency_key,
        )
        .values(status_code=answer.status_code, response=answer.body)
    )
