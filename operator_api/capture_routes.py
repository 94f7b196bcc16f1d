"""Writing: a consent decision or an objection an agent heard on a call.

With an ``Idempotency-Key`` header, the write and the key's stored answer commit
together: a retry (at once or later) gets the same answer, marked
``Idempotent-Replayed: true``, and records nothing; the same key with another body
is 409. Without one, every post records.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from datetime import datetime

from pydantic import BaseModel, ValidationError
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session
from starlette.requests import Request
from starlette.responses import Response

from operator_api.access import problem
from operator_api.api_state import Api, api_of
from operator_api.endpoints import Endpoint, Param, invalid, json_response
from operator_api.schemas import (
    ConsentPost,
    ConsentRecorded,
    ObjectionPost,
    ObjectionRecorded,
)
from reconsent.db import unit_of_work
from reconsent.kernel.errors import ConflictError, DecisionError, NotFoundError
from reconsent.kernel.vocab import ConsentState
from reconsent.operators.api_keys import Caller
from reconsent.operators.capture import (
    CallFacts,
    consent_answer,
    record_operator_choices,
    record_operator_objection,
    resolve_contact,
)
from reconsent.operators.capture_batch import (
    Captured,
    ConsentCapture,
    NeedsOneByOne,
    record_capture_batch,
)
from reconsent.operators.contact_checks import Lookup
from reconsent.operators.idempotency import Answer, claim_key, request_digest, store_answer

__all__ = ["ENDPOINTS", "write_consents"]

Work = Callable[[Session, Caller, str | None], Answer]


async def _read(
    request: Request, model: type[BaseModel]
) -> tuple[Api, Caller, bytes, BaseModel] | Response:
    """The key's caller (scope consents:write) and the post, else the answer to give."""
    api = api_of(request)
    caller = api.keys.require(request, "consents:write")
    if isinstance(caller, Response):
        return caller
    raw = await request.body()
    try:
        return api, caller, raw, model.model_validate_json(raw)
    except ValidationError as exc:
        return invalid(exc)


async def _write(
    request: Request, model: type[BaseModel], work: Callable[[Api, BaseModel], Work]
) -> Response:
    read = await _read(request, model)
    if isinstance(read, Response):
        return read
    api, caller, raw, post = read
    idempotency = request.headers.get("idempotency-key")
    digest = request_digest(request.method, request.url.path, raw)
    write = work(api, post)

    def run() -> tuple[Answer, bool]:
        return _once(
            api,
            caller,
            idempotency,
            digest,
            api.clock.now(),
            lambda session: write(session, caller, idempotency),
        )

    try:
        answer, replayed = await api.run(run)
    except (ConflictError, NotFoundError, DecisionError) as exc:
        return _error(exc)
    headers = {"Idempotent-Replayed": "true"} if replayed else {}
    return json_response(answer.body, answer.status_code, **headers)


def _call(api: Api, post: ConsentPost | ObjectionPost, caller: Caller) -> CallFacts:
    return CallFacts(
        caller=caller,
        agent_id=post.agent_id,
        call_id=post.call_id,
        recording_ref=post.recording_ref,
        channel=post.channel,
    )


def _capture(
    api: Api, post: ConsentPost, caller: Caller, request: Request, raw: bytes
) -> ConsentCapture:
    return ConsentCapture(
        lookup=Lookup(*post.contact.kind_value()),
        choices=tuple((c.purpose, ConsentState(c.decision)) for c in post.choices),
        notice_version=post.notice_version,
        call=_call(api, post, caller),
        at=api.clock.now(),
        idempotency=request.headers.get("idempotency-key"),
        digest=request_digest(request.method, request.url.path, raw),
    )


def _once(
    api: Api,
    caller: Caller,
    idempotency: str | None,
    digest: str,
    at: datetime,
    write: Callable[[Session], Answer],
) -> tuple[Answer, bool]:
    """``write`` in its own unit of work, with its Idempotency-Key claimed first and its
    answer stored under it (a retry gets the stored answer: ``True``)."""
    with unit_of_work(api.sessions) as session:
        if idempotency is not None:
            stored = claim_key(session, caller.id, idempotency, digest, at)
            if stored is not None:
                return stored, True
        answer = write(session)
        if idempotency is not None:
            store_answer(session, caller.id, idempotency, answer)
        return answer, False


def _one_consent(api: Api, post: ConsentCapture) -> Captured:
    """One consent post in its own unit of work: the exact path (every error answered)."""
    ctx = replace(api.ledger_context(), now=post.at)

    def write(session: Session) -> Answer:
        contact = resolve_contact(session, post.lookup, api.options)
        states = record_operator_choices(
            session,
            contact,
            post.choices,
            notice_version=post.notice_version,
            call=post.call,
            ctx=ctx,
            idempotency=post.idempotency,
        )
        return consent_answer(contact.external_id, states)

    answer, replayed = _once(api, post.call.caller, post.idempotency, post.digest, post.at, write)
    return Captured(answer, replayed)


def write_consents(api: Api, posts: list[ConsentCapture]) -> list[Captured | Exception]:
    """The posts that arrived together, in one unit of work
    (:func:`reconsent.operators.capture_batch.record_capture_batch`); when that batch
    cannot be written as one (a post with an error, a deadlock with another process),
    each post on its own, each with its own answer."""
    try:
        with unit_of_work(api.sessions) as session:
            return list(record_capture_batch(session, posts, api.options, api.ledger_context()))
    except (NeedsOneByOne, DBAPIError):
        pass
    results: list[Captured | Exception] = []
    for post in posts:
        try:
            results.append(_one_consent(api, post))
        except (ConflictError, NotFoundError, DecisionError, DBAPIError) as exc:
            results.append(exc)
    return results


async def consents(request: Request) -> Response:
    read = await _read(request, ConsentPost)
    if isinstance(read, Response):
        return read
    api, caller, raw, post = read
    assert isinstance(post, ConsentPost)
    found = await api.captures.submit(_capture(api, post, caller, request, raw))
    if isinstance(found, Exception):
        return _error(found)
    headers = {"Idempotent-Replayed": "true"} if found.replayed else {}
    return json_response(found.answer.body, found.answer.status_code, **headers)


def _error(exc: Exception) -> Response:
    if isinstance(exc, ConflictError):
        return problem(409, "conflict", str(exc))
    if isinstance(exc, NotFoundError):
        return problem(404, "not found", str(exc))
    if isinstance(exc, DecisionError):
        return problem(422, "not recorded", str(exc))
    raise exc


def _objection(api: Api, post: BaseModel) -> Work:
    assert isinstance(post, ObjectionPost)

    def write(session: Session, caller: Caller, idempotency: str | None) -> Answer:
        contact = resolve_contact(session, Lookup(*post.contact.kind_value()), api.options)
        record_operator_objection(
            session, contact, call=_call(api, post, caller), ctx=api.ledger_context()
        )
        return Answer(201, {"external_id": contact.external_id, "objected": True})

    return write


async def objections(request: Request) -> Response:
    return await _write(request, ObjectionPost, _objection)


_IDEMPOTENCY = Param(
    "Idempotency-Key", "a retry with the same key records once (1-200 characters)", where="header"
)

ENDPOINTS = [
    Endpoint(
        "POST",
        "/consents",
        consents,
        "Record what the person decided on the call, purpose by purpose (given, refused, "
        "withdrawn), after the notice or script version read to them.",
        "consents:write",
        response=ConsentRecorded,
        body=ConsentPost,
        params=(_IDEMPOTENCY,),
        idempotent=True,
    ),
    Endpoint(
        "POST",
        "/objections",
        objections,
        "Record an objection (never contact me): every channel suppressed at once.",
        "consents:write",
        response=ObjectionRecorded,
        body=ObjectionPost,
        params=(_IDEMPOTENCY,),
        idempotent=True,
    ),
]
