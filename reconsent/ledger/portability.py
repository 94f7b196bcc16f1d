"""What we hold about one person (art. 15 access, art. 20 portability): JSON and CSV.

``subject_export`` gathers the contact's own data, the consent proof
(:func:`reconsent.ledger.proof.proof_of`: current state, every event, suppressions)
and the person's rights requests; ``export_csv`` flattens the same data into
one long CSV (``section,item,field,value``) any spreadsheet opens.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from models import Contact, RightsRequest
from reconsent.kernel.spreadsheet import spreadsheet_safe
from reconsent.ledger.proof import proof_of

EXPORT_VERSION = "reconsent.subject-export.v1"
CSV_HEADER = ("section", "item", "field", "value")

__all__ = ["CSV_HEADER", "EXPORT_VERSION", "export_csv", "subject_export"]


def _iso(value: Any) -> Any:
    return value.isoformat() if hasattr(value, "isoformat") else value


def subject_export(
    session: Session, contact: Contact, controller: str, evidence_key: bytes | None = None
) -> dict[str, Any]:
    """Everything held about ``contact``, as JSON-ready data (no internal row ids)."""
    proof = proof_of(session, contact, evidence_key)
    requests = [
        {
            "kind": r.kind.value,
            "status": r.status.value,
            "received_at": _iso(r.received_at),
            "due_at": _iso(r.due_at),
            "completed_at": _iso(r.completed_at),
            "details": r.details,
        }
        for r in session.scalars(
            select(RightsRequest)
            .where(RightsRequest.contact_id == contact.id)
            .order_by(RightsRequest.id)
        )
    ]
    return {
        "format": EXPORT_VERSION,
        "controller": controller,
        "contact": {
            "external_id": contact.external_id,
            "subject_id": contact.subject_id,
            "given_name": contact.given_name,
            "family_name": contact.family_name,
            "email": contact.email,
            "phone": contact.phone,
            "locale": contact.locale,
            "timezone": contact.timezone,
            "municipality": contact.municipality,
            "created_at": _iso(contact.created_at),
            "updated_at": _iso(contact.updated_at),
            "restricted_at": _iso(contact.restricted_at),
            "erased_at": _iso(contact.erased_at),
        },
        "consents": proof["current"],
        "consent_history": proof["events"],
        "suppressions": proof["suppressions"],
        "rights_requests": requests,
    }


def _flatten(prefix: str, value: Any) -> Iterator[tuple[str, str]]:
    if isinstance(value, dict):
        for key, inner in value.items():
            yield from _flatten(f"{prefix}.{key}" if prefix else str(key), inner)
    elif isinstance(value, list):
        for index, inner in enumerate(value):
            yield from _flatten(f"{prefix}[{index}]", inner)
    elif value is None:
        yield prefix, ""
    elif isinstance(value, bool):
        yield prefix, "true" if value else "false"
    else:
        text = str(value)
        yield prefix, spreadsheet_safe(text)


def export_csv(data: dict[str, Any]) -> str:
    """The export as one CSV: a row per field, items numbered from 1 within a section."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(CSV_HEADER)
    writer.writerow(("format", "1", "version", data["format"]))
    writer.writerow(("controller", "1", "name", data["controller"]))
    for field, value in _flatten("", data["contact"]):
        writer.writerow(("contact", "1", field, value))
    for section in ("consents", "consent_history", "suppressions", "rights_requests"):
        for number, item in enumerate(data[section], start=1):
            for field, value in _flatten("", item):
                writer.writerow((section, str(number), field, value))
    return out.getvalue()
