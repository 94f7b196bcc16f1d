"""Applying an approved correction (art. 16) to the contact, audited.

The corrections a person asked for (``details.corrections`` of an open
rectification request) are checked as an import checks a row: names without
control characters, an e-mail or phone normalised (the phone read in the
region of the person's language) and re-hashed, so the suppression list and
the same-person rule see the new address. Every value is checked before any is
written. The history and the log name the fields changed, never a value (old or
new). ``note`` is the person's own comment, not a contact field: never applied.
"""

from __future__ import annotations

import logging
from datetime import datetime

from sqlalchemy.orm import Session

from models import Contact, RightsRequest
from reconsent.imports.rows import parse_email, parse_phone
from reconsent.kernel.errors import DecisionError
from reconsent.kernel.rules.addresses import address_hash, region_for_locale
from reconsent.kernel.rules.names import control_characters
from reconsent.kernel.vocab import AddressKind, RightsKind, RightsStatus
from reconsent.rights.history import log_step
from reconsent.rights.workflow import get_request

__all__ = ["CONTACT_FIELDS", "apply_rectification", "checked_corrections"]

log = logging.getLogger(__name__)

#: The corrections that change the contact (``note`` is the person's comment).
CONTACT_FIELDS = ("given_name", "family_name", "email", "phone")


def checked_corrections(corrections: dict[str, str], locale: str) -> dict[str, str]:
    """The contact fields to write, normalised; :class:`DecisionError` naming the field
    (never the value) that cannot be taken."""
    out: dict[str, str] = {}
    for name in CONTACT_FIELDS:
        raw = (corrections.get(name) or "").strip()
        if not raw:
            continue
        try:
            if name == "email":
                out[name] = parse_email(raw)
            elif name == "phone":
                out[name] = parse_phone(raw, region_for_locale(locale))
            elif control_characters(raw) or len(raw) > 200:
                raise ValueError(f"{name} holds control characters or is too long")
            else:
                out[name] = raw
        except ValueError:
            raise DecisionError(
                f"the corrected {name} is not valid: decline the request with the reason, "
                "or ask the person again"
            ) from None
    return out


def apply_rectification(
    session: Session, request_id: int, *, key: bytes, actor: str | None, now: datetime
) -> tuple[RightsRequest, list[str]]:
    """Write the correction to the contact; returns the request and the fields changed.

    The caller then completes the request (:func:`reconsent.rights.workflow.close_request`),
    which tells the person and the CRM. Applied already: nothing changes (a retry)."""
    row = get_request(session, request_id, lock=True)
    if row.kind is not RightsKind.RECTIFICATION:
        raise DecisionError(
            f"rights request {request_id} is a {row.kind.value}, not a rectification"
        )
    applied = row.details.get("applied")
    if isinstance(applied, dict):
        return row, list(applied.get("fields", []))
    if row.status is not RightsStatus.OPEN:
        raise DecisionError(f"the request is {row.status.value}: nothing to apply")
    contact = session.get_one(Contact, row.contact_id)
    if contact.erased_at is not None:
        raise DecisionError("this person was erased: there is nothing to correct")
    values = checked_corrections(dict(row.details.get("corrections") or {}), contact.locale)
    if not values:
        raise DecisionError("the request asks for no change to the contact (a note only)")
    for name, value in values.items():
        setattr(contact, name, value)
    if "email" in values:
        contact.email_hash = address_hash(key, AddressKind.EMAIL, values["email"])
    if "phone" in values:
        contact.phone_hash = address_hash(key, AddressKind.PHONE, values["phone"])
    contact.updated_at = now
    fields = sorted(values)
    row.details = {
        **row.details,
        "applied": {"fields": fields, "at": now.isoformat(), "by": actor},
    }
    log_step(session, row, "rectification_applied", now, actor=actor, details={"fields": fields})
    session.flush()
    log.info("rights request %s: correction applied to %s", row.id, ", ".join(fields))
    return row, fields
