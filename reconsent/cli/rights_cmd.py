"""``reconsent rights``: the data-subject requests received by the portal, with due dates."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import typer
from rich.table import Table
from sqlalchemy import select
from sqlalchemy.orm import Session

from reconsent.cli.context import console, print_json, session
from reconsent.kernel.clock import SystemClock

rights_app = typer.Typer(
    help="Data-subject requests (access, correction, erasure...), due in one month.",
    no_args_is_help=True,
)


def rights_rows(s: Session, *, open_only: bool, now: datetime) -> list[dict[str, Any]]:
    """Every request (or the open ones), oldest due first, with an ``overdue`` flag."""
    from models import Contact, RightsRequest
    from reconsent.kernel.vocab import RightsStatus

    query = (
        select(RightsRequest, Contact.external_id)
        .join(Contact, Contact.id == RightsRequest.contact_id)
        .order_by(RightsRequest.due_at, RightsRequest.id)
    )
    if open_only:
        query = query.where(RightsRequest.status == RightsStatus.OPEN)
    return [
        {
            "id": r.id,
            "kind": r.kind.value,
            "status": r.status.value,
            "external_id": external_id,
            "subject_id": r.subject_id,
            "received_at": r.received_at.isoformat(),
            "due_at": r.due_at.isoformat(),
            "completed_at": r.completed_at.isoformat() if r.completed_at else None,
            "overdue": r.status is RightsStatus.OPEN and r.due_at < now,
            "channel": r.channel.value if r.channel else None,
            "wave_request_id": r.request_id,
            "details": r.details,
        }
        for r, external_id in s.execute(query)
    ]


def _summary(row: dict[str, Any]) -> str:
    """What the request is about, without repeating personal data in the table."""
    details = row["details"]
    if "corrections" in details:
        return "correct: " + ", ".join(sorted(details["corrections"]))
    return ", ".join(f"{k}={v}" for k, v in sorted(details.items()) if k != "claim")


@rights_app.command("list")
def list_requests(
    as_json: bool = typer.Option(False, "--json", help="Machine-readable, with full details."),
    open_only: bool = typer.Option(False, "--open", help="Only requests still to act on."),
) -> None:
    """List requests with their due date (one month after receipt); overdue ones in red."""
    with session() as s:
        rows = rights_rows(s, open_only=open_only, now=SystemClock().now())
    if as_json:
        print_json(rows)
        return
    table = Table("id", "kind", "status", "contact", "received", "due", "channel", "details")
    for r in rows:
        due = r["due_at"][:10]
        table.add_row(
            str(r["id"]),
            r["kind"],
            r["status"],
            r["external_id"] if r["kind"] != "erasure" else "(erased)",
            r["received_at"][:16],
            f"[red]{due} overdue[/red]" if r["overdue"] else due,
            r["channel"] or "-",
            _summary(r),
        )
    console.print(table)


@rights_app.command("complete")
def complete(
    request_id: int = typer.Argument(..., help="Request id (see `reconsent rights list`)."),
    decline: bool = typer.Option(False, "--decline", help="Record it as not carried out."),
) -> None:
    """Close an open request once an operator has acted on it (e.g. applied a correction)."""
    from reconsent.rights.subject_requests import close_rights_request

    with session() as s:
        row = close_rights_request(s, request_id, decline=decline, now=SystemClock().now())
        status = row.status.value
    print(f"rights request {request_id}: {status}")
