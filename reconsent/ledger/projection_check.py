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

Two statements find the candidates without sorting the ledger: each row
joined to the event it names, with "is there a later event of the same
(contact, purpose)?" answered by the (contact, purpose) index; and the
(contact, purpose) pairs with events but no row. Only rows that may differ
come back; each is then compared in Python with its latest event (spoken
notice versions count as the web notice a call was read from).
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection, Engine, and_, exists, or_, select
from sqlalchemy.orm import aliased

from models import ConsentEvent, ConsentStatus, Contact
from reconsent.kernel.notice_versions import base_version
from reconsent.ledger.verify import Break, VerifyReport

#: The projected fields, compared one by one.
_FIELDS = ("state", "occurred_at", "expires_at", "notice_version", "provable")
_STATUS = ConsentStatus.metadata.tables[ConsentStatus.__tablename__]
_EVENTS = ConsentEvent.metadata.tables[ConsentEvent.__tablename__]


def _candidates() -> Any:
    """Rows that name no event, another pair's event, not the latest one, or differ."""
    s, named = _STATUS, _EVENTS.alias("named")
    later = _EVENTS.alias("later")
    has_later = exists().where(
        later.c.contact_id == s.c.contact_id,
        later.c.purpose_id == s.c.purpose_id,
        or_(
            later.c.occurred_at > named.c.occurred_at,
            and_(later.c.occurred_at == named.c.occurred_at, later.c.id > named.c.id),
        ),
    )
    return (
        select(
            s.c.contact_id,
            s.c.purpose_id,
            s.c.last_event_id,
            *(s.c[name].label(f"status_{name}") for name in _FIELDS),
            named.c.id,
            named.c.subject_id,
            named.c.event_id,
            *(named.c[name] for name in _FIELDS),
            Contact.subject_id.label("contact_subject"),
            or_(
                named.c.id.is_(None),
                named.c.contact_id != s.c.contact_id,
                named.c.purpose_id != s.c.purpose_id,
                has_later,
            ).label("elsewhere"),
        )
        .select_from(s)
        .outerjoin(named, named.c.id == s.c.last_event_id)
        .outerjoin(Contact, Contact.id == s.c.contact_id)
        .where(
            or_(
                named.c.id.is_(None),
                named.c.contact_id != s.c.contact_id,
                named.c.purpose_id != s.c.purpose_id,
                *(s.c[name].is_distinct_from(named.c[name]) for name in _FIELDS),
                has_later,
            )
        )
        .order_by(s.c.contact_id, s.c.purpose_id)
    )


def _unprojected() -> Any:
    """(contact, purpose) pairs with events and no row."""
    e = aliased(ConsentEvent)
    return (
        select(e.contact_id, e.purpose_id)
        .where(
            ~exists().where(
                _STATUS.c.contact_id == e.contact_id, _STATUS.c.purpose_id == e.purpose_id
            )
        )
        .distinct()
        .order_by(e.contact_id, e.purpose_id)
    )


def _latest(conn: Connection, contact_id: int, purpose_id: int) -> Any:
    return conn.execute(
        select(
            _EVENTS.c.id, _EVENTS.c.subject_id, _EVENTS.c.event_id, *(_EVENTS.c[n] for n in _FIELDS)
        )
        .where(_EVENTS.c.contact_id == contact_id, _EVENTS.c.purpose_id == purpose_id)
        .order_by(_EVENTS.c.occurred_at.desc(), _EVENTS.c.id.desc())
        .limit(1)
    ).first()


def check_projection(engine: Engine, report: VerifyReport, max_breaks: int = 1000) -> None:
    """Append a ``projection_mismatch`` for every (contact, purpose) whose row is missing,
    has no event, or differs from its latest event."""
    with engine.connect() as conn:
        for row in conn.execute(_candidates()):
            latest = _latest(conn, row.contact_id, row.purpose_id) if row.elsewhere else row
            broken = _compare(row, latest)
            if broken is not None:
                report.breaks.append(broken)
                if len(report.breaks) >= max_breaks:
                    return
        for contact_id, purpose_id in conn.execute(_unprojected()):
            latest = _latest(conn, contact_id, purpose_id)
            report.breaks.append(
                Break(
                    latest.subject_id,
                    latest.event_id,
                    "projection_mismatch",
                    f"contact {contact_id} purpose {purpose_id}: no current state, "
                    f"but the latest event says {_show(latest.state)}",
                )
            )
            if len(report.breaks) >= max_breaks:
                return


def _compare(row: Any, latest: Any) -> Break | None:
    """The break of one projection row against its (contact, purpose)'s latest event."""
    where = f"contact {row.contact_id} purpose {row.purpose_id}"
    if latest is None:
        return Break(
            row.contact_subject or "-",
            "-",
            "projection_mismatch",
            f"{where}: current state {_show(row.status_state)} but the ledger has no event for it",
        )
    diffs: list[str] = []
    if row.last_event_id != latest.id:
        diffs.append(f"points at event #{row.last_event_id}, the latest is #{latest.id}")
    for name in _FIELDS:
        projected, recorded = getattr(row, f"status_{name}"), getattr(latest, name)
        if name == "notice_version" and recorded is not None:
            recorded = base_version(recorded)  # a spoken notice counts as its web notice
        if projected != recorded:
            diffs.append(f"{name} {_show(projected)} but the latest event says {_show(recorded)}")
    if not diffs:
        return None
    return Break(
        latest.subject_id, latest.event_id, "projection_mismatch", f"{where}: " + "; ".join(diffs)
    )


def _show(value: Any) -> str:
    if hasattr(value, "isoformat"):
        return str(value.isoformat())
    return str(getattr(value, "value", value))
