"""The English words of a consent receipt: how a consent was collected, when it ends,
how long its data is kept. Pure functions over recorded values.
"""

from __future__ import annotations

from datetime import datetime

from models import Retention
from reconsent.kernel.vocab import Channel, CollectionMethod, ConsentState

__all__ = [
    "PII_CATEGORIES",
    "collection_method",
    "retention_text",
    "termination",
]

#: The data a purpose uses when the catalog names no ``data_categories``.
PII_CATEGORIES: dict[Channel | None, tuple[str, ...]] = {
    Channel.EMAIL: ("contact details: e-mail address",),
    Channel.SMS: ("contact details: mobile phone number",),
    Channel.IVR: ("contact details: phone number",),
    None: ("contact details", "preferences"),
}
_CHANNEL = {Channel.EMAIL: "an e-mail", Channel.SMS: "a text message", Channel.IVR: "a phone call"}
_BY = {Channel.EMAIL: "by e-mail", Channel.SMS: "by text message", Channel.IVR: "by phone"}
#: The ``source`` of the RPO's invalidations (``reconsent.imports.rpo_answers``).
RPO_SOURCE = "rpo"


def collection_method(
    method: CollectionMethod, channel: Channel | None, source: str | None = None
) -> str:
    """How the event was collected, as a person reads it ("phone call (keypad)")."""
    if method is CollectionMethod.PORTAL:
        return f"consent portal (link in {_CHANNEL[channel]})" if channel else "consent portal"
    if method is CollectionMethod.IVR:
        return "phone call (keypad)"
    if method is CollectionMethod.SMS:
        return "text message reply (keyword)"
    if method is CollectionMethod.EMAIL:
        return "e-mail (unsubscribe link or spam report)"
    if method is CollectionMethod.OPERATOR:
        return f"told to an operator {_BY[channel]}" if channel else "told to an operator"
    if source == RPO_SOURCE:
        return "registration in the Italian opt-out register (RPO)"
    origin = f" ({source})" if source else ""
    given = f", originally {_BY[channel]}" if channel else ""
    return f"imported from the customer records{origin}{given}"


def termination(state: ConsentState, occurred_at: datetime, expires_at: datetime | None) -> str:
    """Kantara ``termination``: until when the current state holds."""
    if state is ConsentState.GIVEN:
        until = f" or until {expires_at.date().isoformat()}" if expires_at else ""
        return f"Until withdrawn{until}; withdraw at any time from the consent portal."
    return f"Not in force: {state.value} on {occurred_at.date().isoformat()}."


def _months(months: int) -> str:
    if months == 0:
        return "not kept"
    return f"kept {months} month{'s' if months != 1 else ''}"


def retention_text(retention: Retention | None) -> str:
    """ "Kept while the consent is in force; after a refusal: not kept; ..."."""
    if retention is None:
        return "Not stated."
    return (
        "Kept while the consent is in force; "
        f"after a refusal: {_months(retention.refused)}; "
        f"after a withdrawal: {_months(retention.withdrawn)}; "
        f"after it expires: {_months(retention.expired)}."
    )
