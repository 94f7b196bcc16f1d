"""Pure rules of a rights request's life: deadlines, extensions, what may happen next.

No I/O: the workflow (:mod:`reconsent.rights.workflow`) reads the request, asks
these functions, and writes what they allow.

* A request is due one calendar month after receipt (art. 12(3));
* it may be extended **once**, by one or two more months, **before** it is due,
  with a reason told to the person (the extension counts from the original due
  date: at most three months in all);
* an open request is completed, or declined with a reason (art. 12(4));
* a correction is applied only to an open rectification; a restriction is lifted
  only while the person is restricted.
"""

from __future__ import annotations

import calendar
from dataclasses import dataclass
from datetime import datetime

from reconsent.kernel.errors import DecisionError
from reconsent.kernel.vocab import Channel, RightsKind, RightsStatus

__all__ = [
    "AT_ONCE_KINDS",
    "AUTHORITIES",
    "MAX_EXTENSION_MONTHS",
    "NOTIFIED_KINDS",
    "PASSED_ON_KINDS",
    "RequestState",
    "add_months",
    "authority_for",
    "check_close",
    "check_extend",
    "due_date",
    "extended_due",
    "notice_channel",
    "overdue",
]

#: Art. 12(3): "extended by two further months where necessary".
MAX_EXTENSION_MONTHS = 2
#: Art. 19: the recipients are told of a rectification, an erasure or a restriction (and
#: the CRM, which goes on processing for marketing, of an objection).
PASSED_ON_KINDS = frozenset(
    {RightsKind.RECTIFICATION, RightsKind.ERASURE, RightsKind.RESTRICTION, RightsKind.OBJECTION}
)
#: Carried out as soon as they are taken, even by phone: an objection to direct
#: marketing is absolute (art. 21(3)) and honouring a false one harms nobody.
AT_ONCE_KINDS = frozenset({RightsKind.OBJECTION})
#: Requests whose outcome is told to the person (a fresh link is its own message).
NOTIFIED_KINDS = frozenset(set(RightsKind) - {RightsKind.LINK_RENEWAL})


#: The supervisory authority of the controller's jurisdiction (art. 77), named in a
#: decline; elsewhere the message names the authority of the person's country.
AUTHORITIES = {
    "IT": "Garante per la protezione dei dati personali (www.garanteprivacy.it)",
    "GB": "Information Commissioner's Office (ico.org.uk)",
}


def authority_for(jurisdiction: str) -> str | None:
    return AUTHORITIES.get(jurisdiction.strip().upper())


@dataclass(frozen=True)
class RequestState:
    """What the rules need to know of a request."""

    kind: RightsKind
    status: RightsStatus
    received_at: datetime
    due_at: datetime
    extension_months: int | None = None


def add_months(moment: datetime, months: int) -> datetime:
    """``months`` calendar months later (31 Jan + 1 -> 28/29 Feb), same time of day."""
    index = moment.month - 1 + months
    year, month = moment.year + index // 12, index % 12 + 1
    day = min(moment.day, calendar.monthrange(year, month)[1])
    return moment.replace(year=year, month=month, day=day)


def due_date(received: datetime) -> datetime:
    """One calendar month after ``received`` (31 Jan -> 28/29 Feb), same time of day."""
    return add_months(received, 1)


def extended_due(received: datetime, months: int) -> datetime:
    """The deadline after an extension of ``months``: counted from the original due date."""
    return add_months(received, 1 + months)


def overdue(state: RequestState, now: datetime) -> bool:
    """Still open after its (possibly extended) due date."""
    return state.status is RightsStatus.OPEN and state.due_at < now


def check_extend(state: RequestState, months: int, reason: str, now: datetime) -> datetime:
    """The new due date of an allowed extension; :class:`DecisionError` saying why not."""
    if state.status is not RightsStatus.OPEN:
        raise DecisionError(f"the request is {state.status.value}: only an open one is extended")
    if state.kind is RightsKind.LINK_RENEWAL:
        raise DecisionError("a link renewal is sent by the tick, it is never extended")
    if state.extension_months is not None:
        raise DecisionError("the request was extended already: art. 12(3) allows it once")
    if not 1 <= months <= MAX_EXTENSION_MONTHS:
        raise DecisionError(f"an extension is 1 or {MAX_EXTENSION_MONTHS} months, not {months}")
    if not reason.strip():
        raise DecisionError("an extension needs its reason (--reason), told to the person")
    if now > state.due_at:
        raise DecisionError(
            "the request is past its due date: an extension must be told within the first month"
        )
    return extended_due(state.received_at, months)


def check_close(state: RequestState, *, decline: bool, reason: str | None) -> RightsStatus:
    """The status an open request moves to; :class:`DecisionError` saying why not."""
    if state.status is not RightsStatus.OPEN:
        raise DecisionError(f"the request is {state.status.value} already")
    if decline and not (reason or "").strip():
        raise DecisionError("a decline needs its reason (--reason), told to the person")
    return RightsStatus.DECLINED if decline else RightsStatus.COMPLETED


def notice_channel(*, email: str | None, phone: str | None) -> tuple[Channel, str] | None:
    """Where the person is told: their e-mail if they have one, else an SMS, else nowhere."""
    if email:
        return Channel.EMAIL, email
    if phone:
        return Channel.SMS, phone
    return None
