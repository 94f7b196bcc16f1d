"""Writing: a consent decision or an objection an agent heard on a call.

With an ``Idempotency-Key`` header, the write and the key's stored answer commit
together: a retry (at once or later) gets the same answer, marked
``Idempotent-Replayed: true``, and records nothing; the same key with another body
is 409. Without one, every post records.
"""

from __future__ import annotations

from collections.abc import Callable

from pydantic import BaseModel, ValidationError
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
    record_operator_choices,
    record_operator_objection,
    resolve_contact,
)
from reconsent.operators.contact_checks import Lookup
from reconsent.operators.idempotency import Answer, claim_key, request_digest, store_answer

__all__ = ["ENDPOINTS"]

Work = Callable[[Session, Caller, str | None], Answer]


async def _write(
    request: Request, model: type[BaseModel], work: Callable[[Api, BaseModel], Work]
) -> Response:
    api = api_of(request)
    caller = api.keys.require(request, "consents:write")
    if isinstance(caller, Response):
        return caller
    raw = await request.body()
    try:
        post = model.model_validate_json(raw)
    except ValidationError as exc:
        return invalid(exc)
    idempotency = request.headers.get("idempotency-key")
    digest = request_digest(request.method, request.url.path, raw)
    write = work(api, post)

    def run() -> tuple[Answer, bool]:
        with unit_of_work(api.sessions) as session:
            if idempotency is not None:
                stored = claim_key(session, caller.id, idempotency, digest, api.clock.now())
                if stored is not None:
                    return stored, True
            answer = write(session, caller, idempotency)
            if idempotency is not None:
                store_answer(session, caller.id, idempotency, answer)
            return answer, False

    try:
        answer, replayed = await api.run(run)
    except ConflictError as exc:
        return problem(409, "conflict", str(exc))
    except NotFoundError as exc:
        return problem(404, "not found", str(exc))
    except DecisionError as exc:
        return problem(422, "not recorded", str(exc))
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


def _consents(api: Api, post: BaseModel) -> Work:
    assert isinstance(post, ConsentPost)

    def write(session: Session, caller: Caller, idempotency: str | None) -> Answer:
        contact = resolve_contact(session, Lookup(*post.contact.kind_value()), api.options)
        states = record_operator_choices(
            session,
            contact,
            [(c.purpose, ConsentState(c.decision)) for c in post.choices],
            notice_version=post.notice_version,
            call=_call(api, post, caller),
            ctx=api.ledger_context(),
            idempotency=idempotency,
        )
        body = {
            "external_id": contact.external_id,
            "states": {k: v.value for k, v in states.items()},
        }
        return Answer(201, body)

    return write


def _objection(api: Api, post: BaseModel) -> Work:
    assert isinstance(post, ObjectionPost)

    def write(session: Session, caller: Caller, idempotency: str | None) -> Answer:
        contact = resolve_contact(session, Lookup(*post.contact.kind_value()), api.options)
        record_operator_objection(
            session, contact, call=_call(api, post, caller), ctx=api.ledger_context()
        )
        return Answer(201, {"external_id": contact.external_id, "objected": True})

    return write


async def consents(request: Request) -> Response:
    return await _write(request, ConsentPost, _consents)


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
