"""``reconsent rights``: data-subject requests, from intake to the answer the person gets.

Thin: the work is in :mod:`reconsent.rights` (intake, workflow, rectification,
notices); each command commits its change, then sends the person's notice.
"""

from __future__ import annotations

import getpass
from datetime import datetime
from typing import Any

import typer
from rich.table import Table
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from reconsent.cli.context import console, engine, parse_time, print_json, settings
from reconsent.db import unit_of_work
from reconsent.kernel.clock import SystemClock
from reconsent.kernel.errors import DecisionError
from reconsent.settings import Settings

rights_app = typer.Typer(
    help="Data-subject requests (access, correction, erasure...): intake, deadlines, answers.",
    no_args_is_help=True,
)

REQUEST = typer.Argument(..., help="Request id (see `reconsent rights list`).")
NOW = typer.Option(None, "--now", help="Pin the clock (ISO time); default now.", hidden=True)


def _operator() -> str:
    try:
        return getpass.getuser()
    except (KeyError, OSError):  # no user name in this environment
        return "operator"


OPERATOR = typer.Option(
    None, "--operator", help="Who acts (recorded in the history); default the login name."
)


def _now(at: str | None) -> datetime:
    return parse_time(at) or SystemClock().now()


def _summary(row: dict[str, Any]) -> str:
    """What the request is about, without repeating personal data in the table."""
    details = row["details"]
    if "corrections" in details:
        applied = " (applied)" if "applied" in details else ""
        return "correct: " + ", ".join(sorted(details["corrections"])) + applied
    return ", ".join(f"{k}={v}" for k, v in sorted(details.items()) if k not in ("claim", "note"))


@rights_app.command("list")
def list_requests(
    as_json: bool = typer.Option(False, "--json", help="Machine-readable, with full details."),
    open_only: bool = typer.Option(False, "--open", help="Only requests still to act on."),
    at: str | None = NOW,
) -> None:
    """List requests with their due date (one month, or as extended); overdue ones in red."""
    from reconsent.rights.views import rights_rows

    with unit_of_work(eng := engine()) as s:
        rows = rights_rows(s, open_only=open_only, now=_now(at))
    eng.dispose()
    if as_json:
        print_json(rows)
        return
    table = Table("id", "kind", "status", "contact", "received", "due", "via", "details")
    for r in rows:
        due = r["due_at"][:10]
        if r["extension_months"]:
            due += f" (+{r['extension_months']}m)"
        table.add_row(
            str(r["id"]),
            r["kind"],
            r["status"],
            "(erased)"
            if r["kind"] == "erasure" and r["status"] == "completed"
            else r["external_id"],
            r["received_at"][:16],
            f"[red]{due} overdue[/red]" if r["overdue"] else due,
            r["channel"] or r["received_via"] or "-",
            _summary(r),
        )
    console.print(table)


@rights_app.command("add")
def add(
    kind: str = typer.Option(
        ..., "--kind", help="access, portability, rectification, erasure, restriction or objection."
    ),
    contact: str | None = typer.Option(None, "--contact", help="The person's CRM id."),
    email: str | None = typer.Option(None, "--email", help="...or an e-mail we hold."),
    phone: str | None = typer.Option(None, "--phone", help="...or a phone number we hold."),
    via: str = typer.Option(..., "--received-via", help="phone, email or letter."),
    received: str | None = typer.Option(None, "--received-at", help="ISO time; default now."),
    note: str | None = typer.Option(None, "--details", help="What the person asked, in words."),
    correct: list[str] = typer.Option(
        [], "--correct", help="A correction asked (rectification): field=value, repeatable."
    ),
    operator: str | None = OPERATOR,
    at: str | None = NOW,
) -> None:
    """Record a request received by phone, e-mail or letter (no wave link needed)."""
    from reconsent.kernel.vocab import RightsKind
    from reconsent.ledger.key_check import checked_address_key
    from reconsent.rights.intake import add_request, find_contact
    from reconsent.rights.transitions import AT_ONCE_KINDS
    from reconsent.rights.workflow import close_request

    try:
        rights_kind = RightsKind(kind)
    except ValueError:
        raise DecisionError(f"unknown --kind {kind!r}") from None
    corrections = dict(_pair(item) for item in correct)
    actor = operator or _operator()

    def work(s: Session, cfg: Settings, eng: Engine, now: datetime) -> tuple[int, str]:
        key = checked_address_key(eng, cfg, now) if (email or phone) else b""
        person = find_contact(
            s, external_id=contact, email=email, phone=phone, key=key, region=cfg.jurisdiction
        )
        row = add_request(
            s,
            contact=person,
            kind=rights_kind,
            received_via=via,
            received_at=parse_time(received) or now,
            operator=actor,
            now=now,
            note=note,
            corrections=corrections,
        )
        if rights_kind in AT_ONCE_KINDS:  # art. 21(3): stops marketing now
            close_request(s, row.id, decline=False, reason=None, actor=actor, ctx=_ctx(cfg, now))
            return row.id, f"rights request {row.id}: {kind}, carried out at once"
        return row.id, f"rights request {row.id}: {kind}, open, due {row.due_at.isoformat()}"

    _act(at, work)


def _pair(item: str) -> tuple[str, str]:
    name, sep, value = item.partition("=")
    if not sep or not name.strip():
        raise DecisionError("--correct takes field=value, e.g. --correct email=new@example.com")
    return name.strip(), value


def _adapters(cfg: Settings) -> Any:
    from functools import cache

    from reconsent.wiring import build_adapter

    return cache(lambda channel: build_adapter(cfg, channel))


def _notify(eng: Engine, cfg: Settings, now: datetime, request_id: int | None) -> str:
    from reconsent.rights.notice_sending import send_notices

    report = send_notices(eng, cfg, _adapters(cfg), now, request_id=request_id)
    parts = [f"{n} by {channel}" for channel, n in sorted(report.sent.items())]
    if report.retrying:
        parts.append(f"{report.retrying} to retry (`reconsent rights notify`)")
    if report.failed:
        parts.append(f"{report.failed} failed")
    if report.unconfirmed:
        parts.append(f"{report.unconfirmed} handed over, outcome unknown (check the provider)")
    return "; person told: " + ", ".join(parts) if parts else ""


def _act(at: str | None, work: Any) -> None:
    """Run ``work(session, cfg, engine, now) -> (request id, message)`` in one unit of
    work, then send that request's notice."""
    cfg, now = settings(), _now(at)
    eng = engine(cfg)
    try:
        with unit_of_work(eng) as s:
            request_id, message = work(s, cfg, eng, now)
        print(message + _notify(eng, cfg, now, request_id))
    finally:
        eng.dispose()


def _ctx(cfg: Settings, now: datetime) -> Any:
    from reconsent.ledger.append import LedgerContext

    return LedgerContext(cfg.controller_name, cfg.jurisdiction, now)


def _processors(cfg: Settings) -> list[str]:
    """The providers that hold people's addresses for us (art. 19: told by the operator)."""
    from reconsent.kernel.vocab import Channel
    from reconsent.wiring import provider_for

    found = {provider_for(cfg, channel)[0] for channel in (Channel.EMAIL, Channel.SMS)}
    return sorted(found - {"outbox"})


@rights_app.command("extend")
def extend(
    request_id: int = REQUEST,
    reason: str = typer.Option(..., "--reason", help="Why more time is needed (told to them)."),
    months: int = typer.Option(2, "--months", help="1 or 2 more months (art. 12(3))."),
    operator: str | None = OPERATOR,
    at: str | None = NOW,
) -> None:
    """Extend a request once, before it is due; the person is told why and until when."""
    from reconsent.rights.workflow import extend_request

    def work(s: Session, cfg: Settings, eng: Engine, now: datetime) -> tuple[int, str]:
        row = extend_request(
            s, request_id, months=months, reason=reason, actor=operator or _operator(), now=now
        )
        return row.id, f"rights request {request_id}: due {row.due_at.isoformat()}"

    _act(at, work)


@rights_app.command("complete")
def complete(
    request_id: int = REQUEST,
    note: str | None = typer.Option(None, "--note", help="A word for the person (optional)."),
    operator: str | None = OPERATOR,
    at: str | None = NOW,
) -> None:
    """Carry out and close an open request (an erasure, objection or restriction is done
    now); the person is told."""
    from reconsent.rights.workflow import close_request

    def work(s: Session, cfg: Settings, eng: Engine, now: datetime) -> tuple[int, str]:
        row = close_request(
            s,
            request_id,
            decline=False,
            reason=note,
            actor=operator or _operator(),
            ctx=_ctx(cfg, now),
            processors=_processors(cfg),
        )
        return row.id, f"rights request {request_id}: {row.status.value}"

    _act(at, work)


@rights_app.command("decline")
def decline(
    request_id: int = REQUEST,
    reason: str = typer.Option(..., "--reason", help="Why (told to the person, art. 12(4))."),
    operator: str | None = OPERATOR,
    at: str | None = NOW,
) -> None:
    """Decline an open request with its reason; the person is told, and of their right to
    complain to the supervisory authority and to a court."""
    from reconsent.rights.workflow import close_request

    def work(s: Session, cfg: Settings, eng: Engine, now: datetime) -> tuple[int, str]:
        row = close_request(
            s,
            request_id,
            decline=True,
            reason=reason,
            actor=operator or _operator(),
            ctx=_ctx(cfg, now),
        )
        return row.id, f"rights request {request_id}: {row.status.value}"

    _act(at, work)


@rights_app.command("apply-rectification")
def apply_rectification_cmd(
    request_id: int = REQUEST,
    operator: str | None = OPERATOR,
    at: str | None = NOW,
) -> None:
    """Apply the correction asked (checked like an import; new addresses re-hashed), then
    complete the request; the person is told."""
    from reconsent.ledger.key_check import checked_address_key
    from reconsent.rights.rectification import apply_rectification
    from reconsent.rights.workflow import close_request

    def work(s: Session, cfg: Settings, eng: Engine, now: datetime) -> tuple[int, str]:
        key = checked_address_key(eng, cfg, now)
        actor = operator or _operator()
        _, fields = apply_rectification(s, request_id, key=key, actor=actor, now=now)
        row = close_request(
            s,
            request_id,
            decline=False,
            reason=None,
            actor=actor,
            ctx=_ctx(cfg, now),
            processors=_processors(cfg),
        )
        return (
            row.id,
            f"rights request {request_id}: {', '.join(fields)} corrected, {row.status.value}",
        )

    _act(at, work)


@rights_app.command("lift-restriction")
def lift_restriction_cmd(
    request_id: int | None = typer.Argument(None, help="The restriction request's id."),
    contact: str | None = typer.Option(None, "--contact", help="...or the person's CRM id."),
    reason: str | None = typer.Option(None, "--reason", help="Why (told to the person)."),
    operator: str | None = OPERATOR,
    at: str | None = NOW,
) -> None:
    """Lift a restriction (art. 18): waves may ask the person again; they are told first."""
    from models import Contact
    from reconsent.kernel.errors import NotFoundError
    from reconsent.rights.workflow import lift_restriction

    if (request_id is None) == (contact is None):
        raise DecisionError("name the restriction request (ID) or the person (--contact)")

    def work(s: Session, cfg: Settings, eng: Engine, now: datetime) -> tuple[int, str]:
        contact_id = None
        if contact is not None:
            contact_id = s.scalar(select(Contact.id).where(Contact.external_id == contact))
            if contact_id is None:
                raise NotFoundError(f"no contact with id {contact!r}")
        row = lift_restriction(
            s,
            request_id=request_id,
            contact_id=contact_id,
            reason=reason,
            actor=operator or _operator(),
            now=now,
        )
        return row.id, f"rights request {row.id}: restriction lifted"

    _act(at, work)


@rights_app.command("notify")
def notify(at: str | None = NOW) -> None:
    """Send the notices still pending (after a provider error); none is sent twice."""
    cfg, now = settings(), _now(at)
    eng = engine(cfg)
    try:
        print("rights notices" + (_notify(eng, cfg, now, None) or ": nothing pending"))
    finally:
        eng.dispose()


@rights_app.command("show")
def show(
    request_id: int = REQUEST,
    as_json: bool = typer.Option(False, "--json", help="Machine-readable."),
    at: str | None = NOW,
) -> None:
    """One request: its deadline, its history, the notices sent and the recipients told."""
    from reconsent.rights.views import request_view

    with unit_of_work(eng := engine()) as s:
        view = request_view(s, request_id, _now(at))
    eng.dispose()
    if as_json:
        print_json(view)
        return
    console.print(f"[bold]rights request {view['id']}[/bold]: {view['kind']}, {view['status']}")
    for label in ("received_at", "received_via", "original_due_at", "due_at", "overdue"):
        console.print(f"  {label}: {view[label]}")
    if view["extension_months"]:
        console.print(
            f"  extended by {view['extension_months']} months: {view['extension_reason']}"
        )
    if view["outcome_reason"]:
        console.print(f"  reason: {view['outcome_reason']}")
    history = Table("when", "step", "by", "details")
    for step in view["history"]:
        details = ", ".join(f"{k}={v}" for k, v in sorted(step["details"].items()))
        history.add_row(step["at"][:19], step["action"], step["actor"] or "-", details)
    console.print(history)
    console.print(
        "notices: "
        + (
            ", ".join(
                f"{n['action']} by {n['channel'] or '-'}: {n['status']}" for n in view["notices"]
            )
            or "none"
        )
    )
    console.print("recipients told (art. 19): " + (", ".join(view["recipients"]) or "none"))
