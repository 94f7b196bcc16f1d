"""The current-state projection must say what the ledger says.

The send gate, the planner and the receipts read ``consent_status``, one row
per (contact, purpose), not the events. So ``ledger verify`` holds every row
equal to the **latest** event of its (contact, purpose), the one
``append_events`` folds in last: the latest ``occurred_at``, a tie going to
the later event (``id``). Each field the gate reads is compared (the event it
names, state, times, notice version, provability); a row with no event, and
events with no row, are breaks too. Comparing with the event ``last_event_id``
names is not enough: a row pointed back at an older "given" event agrees with
that event.

Everything is compared in one SQL statement per direction; only rows that
differ come back (spoken-notice versions are then compared in Python: the
projection keeps the web notice a call was read from).
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Engine, and_, exists, func, or_, select

from models import ConsentEvent, ConsentStatus, Contact
from reconsent.kernel.notice_versions import base_version
from reconsent.ledger.verify import Break, VerifyReport

#: The projected fields, compared one by one.
_FIELDS = ("state", "occurred_at", "expires_at", "notice_version", "provable")


def _latest() -> Any:
    ranked = select(
        ConsentEvent.contact_id,
        ConsentEvent.purpose_id,
        ConsentEvent.id,
        ConsentEvent.event_id,
        ConsentEvent.subject_id,
        *(getattr(ConsentEvent, name) for name in _FIELDS),
        func.row_number()
        .over(
            partition_by=(ConsentEvent.contact_id, ConsentEvent.purpose_id),
            order_by=(ConsentEvent.occurred_at.desc(), ConsentEvent.id.desc()),
        )
        .label("rank"),
    ).subquery()
    return select(ranked).where(ranked.c.rank == 1).subquery("latest")


def check_projection(engine: Engine, report: VerifyReport, max_breaks: int = 1000) -> None:
    """Append a ``projection_mismatch`` for every (contact, purpose) whose row is missing,
    has no event, or differs from its latest event."""
    latest = _latest()
    status = ConsentStatus.__table__
    differs = [
        status.c.last_event_id.is_distinct_from(latest.c.id),
        *(status.c[name].is_distinct_from(latest.c[name]) for name in _FIELDS),
    ]
    against_latest = (
        select(
            latest.c.subject_id,
            latest.c.event_id,
            latest.c.id,
            latest.c.contact_id,
            latest.c.purpose_id,
            status.c.last_event_id,
            *(latest.c[name] for name in _FIELDS),
            *(status.c[name].label(f"status_{name}") for name in _FIELDS),
        )
        .select_from(latest)
        .outerjoin(
            status,
            and_(
                status.c.contact_id == latest.c.contact_id,
                status.c.purpose_id == latest.c.purpose_id,
            ),
        )
        .where(or_(status.c.contact_id.is_(None), *differs))
        .order_by(latest.c.subject_id, latest.c.purpose_id)
    )
    orphans = (
        select(Contact.subject_id, status.c.contact_id, status.c.purpose_id, status.c.state)
        .select_from(status)
        .outerjoin(Contact, Contact.id == status.c.contact_id)
        .where(
            ~exists().where(
                ConsentEvent.contact_id == status.c.contact_id,
                ConsentEvent.purpose_id == status.c.purpose_id,
            )
        )
        .order_by(status.c.contact_id, status.c.purpose_id)
    )
    with engine.connect() as conn:
        for row in conn.execute(against_latest):
            broken = _compare(row)
            if broken is not None:
                report.breaks.append(broken)
                if len(report.breaks) >= max_breaks:
                    return
        for subject_id, contact_id, purpose_id, state in conn.execute(orphans):
            report.breaks.append(
                Break(
                    subject_id or "-",
                    "-",
                    "projection_mismatch",
                    f"contact {contact_id} purpose {purpose_id}: current state {state} "
                    "but the ledger has no event for it",
                )
            )
            if len(report.breaks) >= max_breaks:
                return


def _compare(row: Any) -> Break | None:
    where = f"contact {row.contact_id} purpose {row.purpose_id}"
    if row.last_event_id is None:
        return Break(
            row.subject_id,
            row.event_id,
            "projection_mismatch",
            f"{where}: no current state, but the latest event says {row.state}",
        )
    diffs: list[str] = []
    if row.last_event_id != row.id:
        diffs.append(f"points at event #{row.last_event_id}, the latest is #{row.id}")
    for name in _FIELDS:
        projected, recorded = getattr(row, f"status_{name}"), getattr(row, name)
        if name == "notice_version" and recorded is not None:
            recorded = base_version(recorded)  # a spoken notice counts as its web notice
        if projected != recorded:
            diffs.append(f"{name} {_show(projected)} but the latest event says {_show(recorded)}")
    if not diffs:
        return None
    return Break(
        row.subject_id, row.event_id, "projection_mismatch", f"{where}: " + "; ".join(diffs)
    )


def _show(value: Any) -> str:
    if hasattr(value, "isoformat"):
        return str(value.isoformat())
    return str(getattr(value, "value", value))
