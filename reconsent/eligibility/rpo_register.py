"""The RPO as the rule sees it: was the register consulted recently enough?

A consultation's answer is valid for 15 days (D.P.R. 26/2022); the register
must be checked before every campaign. Without a valid consultation no call
goes to an Italian number (``rpo_not_consulted``). Registrations themselves act
through the ledger: importing them invalidates the phone consents given before
(``reconsent.imports.rpo_answers``), so the rule's "consent to that channel" no longer
holds for those people.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import Connection, func, select
from sqlalchemy.orm import Session

from models import RpoConsultation

__all__ = ["RPO_VALIDITY_DAYS", "consulted_within", "last_consultation", "rpo_consulted"]

#: How long one consultation's answer may be relied on (the default of the setting).
RPO_VALIDITY_DAYS = 15


def last_consultation(session: Session | Connection) -> datetime | None:
    found: datetime | None = session.scalar(select(func.max(RpoConsultation.consulted_at)))
    return found


def rpo_consulted(session: Session, now: datetime, validity_days: int = RPO_VALIDITY_DAYS) -> bool:
    """True when the register's last answer is at most ``validity_days`` old."""
    return consulted_within(last_consultation(session), now, validity_days)


def consulted_within(last: datetime | None, now: datetime, validity_days: int) -> bool:
    """True when the consultation answered at ``last`` is at most ``validity_days`` old."""
    if last is None:
        return False
    if last.tzinfo is None:  # SQLite's func.max comes back naive
        from datetime import UTC

        last = last.replace(tzinfo=UTC)
    return now - timedelta(days=validity_days) <= last <= now + timedelta(minutes=5)
