"""Reading a stored event's evidence as the proof does: sealed values opened."""

from __future__ import annotations

import hashlib
from typing import Any

from sqlalchemy import Engine

from models import ConsentEvent
from reconsent.db import unit_of_work
from reconsent.ledger.evidence_sealing import EvidenceReader

#: The evidence key of ``make_settings`` (tests/conftest.py).
TEST_EVIDENCE_KEY = "test-evidence-key"


def wrapping_key(text: str = TEST_EVIDENCE_KEY) -> bytes:
    return hashlib.sha256(text.encode()).digest()


def opened(engine: Engine, event: ConsentEvent, key: str = TEST_EVIDENCE_KEY) -> dict[str, Any]:
    """``event``'s evidence with its sealed values restored (or marked shredded)."""
    with unit_of_work(engine) as session:
        return EvidenceReader(session, wrapping_key(key)).open(
            event.subject_id, event.event_id, event.evidence
        )
