"""A wave's audience as the planner sees it now: every contact with the reason it is
asked or not (``eligible``, or ``refused``, ``objected``, ``no_lawful_basis``...), the
basis it would be asked on and what blocks each channel. For the audience export
(``reconsent wave audience export``): the CRM's ids and the reasons only, unless the
caller asks for the contact details too.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from models import Contact, Wave
from reconsent.eligibility.rpo_register import RPO_VALIDITY_DAYS, rpo_consulted
from reconsent.kernel.vocab import Channel
from reconsent.planning.scratch import classified

__all__ = ["AUDIENCE_FIELDS", "CONTACT_FIELDS", "audience_rows"]

AUDIENCE_FIELDS = ("external_id", "reason", "basis", *(f"block_{c.value}" for c in Channel))
#: Only with ``with_contacts``: personal data.
CONTACT_FIELDS = ("given_name", "family_name", "email", "phone", "locale")


def audience_rows(
    session: Session,
    wave: Wave,
    now: datetime,
    *,
    rpo_validity_days: int = RPO_VALIDITY_DAYS,
    with_contacts: bool = False,
) -> Iterator[dict[str, Any]]:
    """Every contact of the base, classified for ``wave`` at ``now``, in id order."""
    with classified(session, wave, now, rpo_consulted(session, now, rpo_validity_days)) as rows:
        details = [getattr(Contact, name) for name in CONTACT_FIELDS] if with_contacts else []
        query = (
            select(
                Contact.external_id,
                rows.c.reason,
                rows.c.basis,
                *[rows.c[f"block_{c.value}"] for c in Channel],
                *details,
            )
            .join(Contact, Contact.id == rows.c.contact_id)
            .order_by(rows.c.contact_id)
        )
        names = AUDIENCE_FIELDS + (CONTACT_FIELDS if with_contacts else ())
        for row in session.execute(query.execution_options(yield_per=5_000)):
            yield dict(zip(names, row, strict=True))
