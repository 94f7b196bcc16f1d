"""What an operator reads of rights requests: the list with deadlines, one request's story.

Read-only. Personal data stays where it is: the history names fields and ids;
a correction's values show only in ``--json`` (``details``), as before.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from models import Contact, RightsNotice, RightsRequest
from reconsent.kernel.vocab import RightsStatus
from reconsent.rights.history import history_of
from reconsent.rights.transitions import due_date, overdue
from reconsent.rights.workflow import get_request, state_of

__all__ = ["recipients_of", "request_view", "rights_rows"]


def rights_rows(session: Session, *, open_only: bool, now: datetime) -> list[dict[str, Any]]:
    """Every request (or the open ones), oldest due first, with extension and overdue."""
    query = (
        select(RightsRequest, Contact.external_id)
        .join(Contact, Contact.id == RightsRequest.contact_id)
        .order_by(RightsRequest.due_at, RightsRequest.id)
    )
    if open_only:
        query = query.where(RightsRequest.status == RightsStatus.OPEN)
    return [_row(r, external_id, now) for r, external_id in session.execute(query)]


def _row(r: RightsRequest, external_id: str, now: datetime) -> dict[str, Any]:
    return {
        "id": r.id,
        "kind": r.kind.value,
        "status": r.status.value,
        "external_id": external_id,
        "subject_id": r.subject_id,
        "received_at": r.received_at.isoformat(),
        "due_at": r.due_at.isoformat(),
        "original_due_at": due_date(r.received_at).isoformat(),
        "extension_months": r.extension_months,
        "extension_reason": r.extension_reason,
        "completed_at": r.completed_at.isoformat() if r.completed_at else None,
        "overdue": overdue(state_of(r), now),
        "channel": r.channel.value if r.channel else None,
        "received_via": r.evidence.get("received_via"),
        "wave_request_id": r.request_id,
        "outcome_reason": r.outcome_reason,
        "details": r.details,
    }


def recipients_of(steps: list[dict[str, Any]]) -> list[str]:
    """Art. 19: who was told of the request (the CRM endpoints and the event), and the
    processors the operator still tells under their DPA."""
    out: list[str] = []
    for step in steps:
        d = step["details"]
        if step["action"] == "passed_on":
            endpoints = ", ".join(str(e) for e in d.get("endpoints", []))
            out.append(f"CRM webhook endpoint {endpoints}: {d.get('event')} ({step['at'][:19]})")
        elif step["action"] == "to_pass_on":
            out.append(f"processor {d.get('name')}: to tell, {d.get('how')}")
    return out


def request_view(session: Session, request_id: int, now: datetime) -> dict[str, Any]:
    """One request with its history, its notices and the recipients told."""
    row = get_request(session, request_id)
    external_id = session.get_one(Contact, row.contact_id).external_id
    view = _row(row, external_id, now)
    steps = [
        {"at": s.at.isoformat(), "action": s.action, "actor": s.actor, "details": s.details}
        for s in history_of(session, row.id)
    ]
    notices = session.scalars(
        select(RightsNotice)
        .where(RightsNotice.rights_request_id == row.id)
        .order_by(RightsNotice.id)
    )
    view["history"] = steps
    view["notices"] = [
        {
            "action": n.action,
            "channel": n.channel.value if n.channel else None,
            "status": n.status,
            "sent_at": n.sent_at.isoformat() if n.sent_at else None,
            "provider": n.provider,
        }
        for n in notices
    ]
    view["recipients"] = recipients_of(steps)
    return view
