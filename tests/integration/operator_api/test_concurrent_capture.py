"""Must hold: 200 concurrent operator posts for 50 people on PostgreSQL, against a real
uvicorn server (mixed consents and objections, some retried at the same moment with the
same Idempotency-Key): every change recorded exactly once, every chain intact, the
final states as posted last."""

from __future__ import annotations

import contextlib
import random
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select

from models import ConsentEvent, ConsentStatus, Contact, IdempotentRequest, Purpose
from operator_api.app import create_app
from reconsent.db import make_engine, unit_of_work
from reconsent.dev.emulators.server import running_server
from reconsent.kernel.clock import SystemClock
from reconsent.kernel.vocab import CollectionMethod, ConsentState
from reconsent.ledger.verify import verify_ledger
from reconsent.operators.api_keys import create_key
from tests.conftest import make_settings
from tests.support import factories

PEOPLE, ROUNDS = 50, 4
PURPOSES = ("marketing_phone", "marketing_email")


@dataclass(frozen=True)
class Post:
    path: str
    body: dict[str, Any]
    key: str
    copies: int  # 2: a retry sent at the same moment


def _plan(rng: random.Random) -> list[list[Post]]:
    """Four rounds of one post per person; objections in the first three only, so the
    last round decides every final state."""
    rounds: list[list[Post]] = []
    for number in range(ROUNDS):
        posts = []
        for person in range(PEOPLE):
            who = {"external_id": f"p{person}"}
            call = {"contact": who, "agent_id": f"agent-{person % 7}", "call_id": f"c{number}"}
            key = f"r{number}-p{person}"
            copies = 2 if rng.random() < 0.25 else 1
            if number < ROUNDS - 1 and rng.random() < 0.2:
                posts.append(Post("/api/v1/objections", call, key, copies))
                continue
            choices = [
                {"purpose": code, "decision": rng.choice(["given", "refused", "withdrawn"])}
                for code in PURPOSES
            ]
            body = {**call, "notice_version": "2026-09", "choices": choices}
            posts.append(Post("/api/v1/consents", body, key, copies))
        rounds.append(posts)
    return rounds


def _expected(rounds: list[list[Post]]) -> tuple[dict[tuple[str, str], ConsentState], int]:
    """The final states and the number of events the posts must record, once each."""
    states: dict[tuple[str, str], ConsentState] = {}
    events = 0
    for posts in rounds:
        for post in posts:
            who = post.body["contact"]["external_id"]
            if post.path.endswith("objections"):
                for code in PURPOSES:
                    if states.get((who, code)) is ConsentState.GIVEN:
                        states[who, code] = ConsentState.WITHDRAWN
                        events += 1
                continue
            for choice in post.body["choices"]:
                key = (who, choice["purpose"])
                if choice["decision"] == "given":
                    states[key] = ConsentState.GIVEN
                elif states.get(key) is ConsentState.GIVEN:
                    states[key] = ConsentState.WITHDRAWN
                else:
                    states[key] = ConsentState.REFUSED
                events += 1
    return states, events


@pytest.mark.postgres
@pytest.mark.parametrize("servers", [1, 2])
def test_200_concurrent_posts_record_each_change_once(
    pg_url: str, tmp_path: Path, servers: int
) -> None:
    # servers=2: two API apps, each with its own engine and capture batches, on one
    # database (as two processes): their batches race for the same people's locks and
    # keys, and a retry may reach the other one.
    settings = make_settings(tmp_path, pg_url, api_threads=16, api_key_cache_seconds=30)
    engine = make_engine(pg_url)
    now = SystemClock().now()
    with unit_of_work(engine) as s:
        factories.add_catalog(s, now)
        for person in range(PEOPLE):
            factories.add_contact(s, now, f"p{person}")
        key = create_key(s, "desk", "consents:write", now).key
    rounds = _plan(random.Random(14))
    sent = sum(p.copies for posts in rounds for p in posts)
    assert sent >= 200 + 40  # 200 posts, and their retries
    answers: list[httpx.Response] = []
    auth = {"Authorization": f"Bearer {key}"}
    with contextlib.ExitStack() as stack:
        bases = [stack.enter_context(running_server(create_app(settings))) for _ in range(servers)]
        clients = [stack.enter_context(httpx.Client(base_url=b, headers=auth)) for b in bases]
        pool = stack.enter_context(ThreadPoolExecutor(max_workers=32))

        def send(numbered: tuple[int, Post]) -> httpx.Response:
            n, post = numbered
            headers = {"Idempotency-Key": post.key}
            client = clients[n % servers]
            return client.post(post.path, json=post.body, headers=headers, timeout=60)

        for posts in rounds:  # each round at once: 50 people, and the retries among them
            copies = [p for p in posts for _ in range(p.copies)]
            random.Random(len(answers)).shuffle(copies)
            answers += list(pool.map(send, enumerate(copies)))
    assert {a.status_code for a in answers} == {201}, {
        a.text for a in answers if a.status_code != 201
    }
    assert sum(a.headers.get("idempotent-replayed") == "true" for a in answers) == sent - 200

    states, events = _expected(rounds)
    with unit_of_work(engine) as s:
        recorded = s.scalar(
            select(func.count())
            .select_from(ConsentEvent)
            .where(ConsentEvent.method == CollectionMethod.OPERATOR)
        )
        answered = s.scalar(select(func.count()).select_from(IdempotentRequest))
        final = {
            (external_id, code): state
            for external_id, code, state in s.execute(
                select(Contact.external_id, Purpose.code, ConsentStatus.state)
                .join(Purpose, Purpose.id == ConsentStatus.purpose_id)
                .join(Contact, Contact.id == ConsentStatus.contact_id)
            )
        }
    assert (recorded, answered) == (events, 200)
    assert final == states
    report = verify_ledger(engine)
    assert report.ok, report
    engine.dispose()
