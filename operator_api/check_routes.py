"""Reading: the contactability check (single and batch) and the consent changes."""

from __future__ import annotations

import asyncio
import json
from datetime import datetime
from functools import partial

from pydantic import ValidationError
from starlette.requests import Request
from starlette.responses import Response

from operator_api.access import problem
from operator_api.api_state import api_of
from operator_api.endpoints import Endpoint, Param, invalid, json_response
from operator_api.schemas import (
    BatchAnswer,
    BatchCheck,
    ChangesPage,
    ContactabilityAnswer,
    ContactRef,
)
from reconsent.kernel.clock import ensure_utc
from reconsent.kernel.errors import NotFoundError
from reconsent.kernel.rules.contactability import Contactability
from reconsent.kernel.vocab import Channel
from reconsent.operators.consent_changes import changes_since
from reconsent.operators.contact_checks import Lookup, check_contacts

__all__ = ["ENDPOINTS"]

#: The most changes one page returns.
MAX_PAGE = 10_000
#: A batch check runs in at most SHARES shares of at least SHARE contacts each.
SHARES, SHARE = 4, 1_000


def _answer(found: Contactability) -> dict[str, object]:
    return {
        "allowed": found.allowed,
        "reasons": list(found.reasons),
        "seconds_in_window": found.seconds_in_window,
        "next_allowed_at": found.next_allowed_at.isoformat() if found.next_allowed_at else None,
    }


async def _check(
    request: Request,
    channel: Channel,
    refs: list[ContactRef],
    purpose: str | None,
    at: datetime | None,
) -> list[Contactability] | Response:
    api = api_of(request)
    moment = ensure_utc(at) if at is not None else api.clock.now()
    lookups = [Lookup(*ref.kind_value()) for ref in refs]

    def work(share: list[Lookup]) -> list[Contactability]:
        with api.reads.connect() as conn:
            return check_contacts(
                conn,
                channel,
                share,
                api.options,
                now=moment,
                purpose=purpose,
                reference=api.reference,
            )

    try:
        if len(lookups) == 1:
            # One contact is one short indexed read: inline on the event loop (a hop to
            # the thread pool costs more than the read).
            return work(lookups)
        # A big batch in shares, each on its own connection at once: the database's
        # part of one share overlaps the others' (each lookup is judged on its own; the
        # holders of an address are read by the share that names it).
        size = max(SHARE, -(-len(lookups) // SHARES))
        shares = [lookups[n : n + size] for n in range(0, len(lookups), size)]
        done = await asyncio.gather(*(api.run(partial(work, share)) for share in shares))
        return [answer for share in done for answer in share]
    except NotFoundError as exc:
        return problem(404, "not found", str(exc))


async def contactability(request: Request) -> Response:
    caller = api_of(request).keys.require(request, "contactability:read")
    if isinstance(caller, Response):
        return caller
    query = request.query_params
    try:
        ref = ContactRef(
            phone=query.get("phone"), email=query.get("email"), external_id=query.get("external_id")
        )
        channel = Channel(query.get("channel", ""))
        at = datetime.fromisoformat(query["at"]) if "at" in query else None
    except ValidationError as exc:
        return invalid(exc)
    except ValueError:
        return problem(422, "invalid request", "channel must be email, sms or ivr; at ISO 8601")
    found = await _check(request, channel, [ref], query.get("purpose"), at)
    if isinstance(found, Response):
        return found
    return json_response(_answer(found[0]))


async def contactability_batch(request: Request) -> Response:
    api = api_of(request)
    caller = api.keys.require(request, "contactability:read")
    if isinstance(caller, Response):
        return caller
    try:
        asked = BatchCheck.model_validate_json(await request.body())
    except ValidationError as exc:
        return invalid(exc)
    at = ensure_utc(asked.at) if asked.at else api.clock.now()
    found = await _check(request, asked.channel, asked.contacts, asked.purpose, at)
    if isinstance(found, Response):
        return found
    # People share a few situations, judged once each: each distinct answer is encoded
    # once and the body is joined from those pieces.
    encoded: dict[int, str] = {}
    pieces = []
    for answer in found:
        piece = encoded.get(id(answer))
        if piece is None:
            piece = encoded[id(answer)] = json.dumps(_answer(answer), separators=(",", ":"))
        pieces.append(piece)
    head = json.dumps({"channel": asked.channel.value, "at": at.isoformat()})[:-1]
    body = f'{head},"answers":[{",".join(pieces)}]}}'
    return Response(body, media_type="application/json")


async def changes(request: Request) -> Response:
    api = api_of(request)
    caller = api.keys.require(request, "export:read")
    if isinstance(caller, Response):
        return caller
    try:
        since = int(request.query_params.get("since", "0"))
        limit = int(request.query_params.get("limit", "1000"))
    except ValueError:
        return problem(422, "invalid request", "since and limit are integers")
    if since < 0 or not 1 <= limit <= MAX_PAGE:
        return problem(422, "invalid request", f"since >= 0, 1 <= limit <= {MAX_PAGE}")
    page = await api.run(lambda: changes_since(api.sessions, since, limit))
    return json_response({"changes": page.changes, "next_cursor": page.next_cursor})


_CHANNEL = Param("channel", "email, sms or ivr (a call)", required=True)
_PURPOSE = Param("purpose", "a purpose code (default: the purposes bound to the channel)")
_AT = Param("at", "the moment judged, ISO 8601 (default: now)")

ENDPOINTS = [
    Endpoint(
        "GET",
        "/contactability",
        contactability,
        "May this contact be reached on this channel now? Every reason, and the window.",
        "contactability:read",
        response=ContactabilityAnswer,
        params=(
            _CHANNEL,
            Param("phone", "the number, E.164 (one of phone, email, external_id)"),
            Param("email", "the e-mail address"),
            Param("external_id", "the CRM's id of the contact"),
            _PURPOSE,
            _AT,
        ),
    ),
    Endpoint(
        "POST",
        "/contactability",
        contactability_batch,
        "The same question for up to 10,000 contacts at once (answers in the order asked).",
        "contactability:read",
        response=BatchAnswer,
        body=BatchCheck,
    ),
    Endpoint(
        "GET",
        "/consents/changes",
        changes,
        "Every consent change after a cursor, oldest first, with the next cursor.",
        "export:read",
        response=ChangesPage,
        params=(
            Param(
                "since",
                "the cursor of the last change applied (0: from the start)",
                schema_type="integer",
            ),
            Param(
                "limit",
                f"at most this many changes (1-{MAX_PAGE}, default 1000)",
                schema_type="integer",
            ),
        ),
    ),
]
