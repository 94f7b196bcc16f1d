"""Recording the decision forms posted to the portal, many per unit of work.

A post's link signature and CSRF token are checked by the handler, before
any database work; here, in one unit of work for every post of a batch
(``reconsent.kernel.batching``): each link's request and age, each form's
choices, then all the decisions through ``record_decisions`` (one statement
per step for all of them) and one commit.  A post that fails (a bad or
expired link, no explicit choice, an erased person) gets its own outcome and
writes nothing; the others are recorded.  When a concurrent writer elsewhere
wins a unique key (the same form posted to two portal processes), the batch
is rolled back and each post is recorded alone, where the loser sees a replay.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from consent_portal.i18n import choose_locale
from consent_portal.page_render import one
from consent_portal.security import FormGrant
from consent_portal.state import (
    Portal,
    begin_write,
    open_links,
    retry_on_conflict,
    run_sync,
    writer,
)
from consent_portal.wave_texts import wave_texts
from reconsent.db import unit_of_work
from reconsent.kernel.errors import DecisionError, LinkError
from reconsent.kernel.links import LinkPayload
from reconsent.kernel.ports import MessageContext
from reconsent.kernel.vocab import CollectionMethod
from reconsent.ledger.decision_rows import DecisionTarget
from reconsent.ledger.decisions import DecisionInput, DecisionResult, record_decisions

#: Form field prefix of a purpose's Yes/No radio pair: ``p.<purpose code>``.
CHOICE_PREFIX = "p."
YES, NO = "yes", "no"
ACTION_SAVE, ACTION_REFUSE_ALL = "save", "refuse_all"

__all__ = ["NoChoice", "Post", "Recorded", "explicit_choices", "record_posts", "write_posts"]

#: Tries (and the pause between them) for SQLite's write lock before waiting on it.
LOCK_POLLS = 2000
LOCK_POLL_SECONDS = 0.0005


@dataclass(frozen=True)
class Post:
    """One decision form whose link signature and CSRF token were checked."""

    token: str
    payload: LinkPayload
    grant: FormGrant
    fields: dict[str, list[str]]
    evidence: dict[str, Any]

    @property
    def action(self) -> str:
        return one(self.fields, "action") or ACTION_SAVE


@dataclass(frozen=True)
class Recorded:
    result: DecisionResult
    context: MessageContext
    locale: str
    wave_id: int


@dataclass(frozen=True)
class NoChoice:
    """The form carried no explicit choice: nothing was recorded."""

    locale: str


Outcome = Recorded | NoChoice | LinkError | DecisionError


def explicit_choices(fields: dict[str, list[str]], codes: list[str]) -> dict[str, bool]:
    """Purpose code -> given, for the purposes with an explicit, unambiguous Yes or No."""
    choices: dict[str, bool] = {}
    for code in codes:
        value = one(fields, CHOICE_PREFIX + code)
        if value in (YES, NO):
            choices[code] = value == YES
    return choices


def record_posts(
    portal: Portal, posts: Sequence[Post], *, wait: bool = True
) -> list[Outcome] | None:
    """The outcome of each post, in order (see the module's docstring).  With
    ``wait=False``: None at once, nothing done, when another process holds SQLite's
    write lock."""
    try:
        with writer(portal.engine), unit_of_work(portal.engine) as session:
            if not begin_write(session, wait=wait):
                return None
            return _record(session, portal, posts)
    except IntegrityError:
        return [_record_alone(portal, post) for post in posts]


async def write_posts(portal: Portal, posts: list[Post]) -> list[Outcome]:
    """``record_posts`` for the portal's batcher.  While another process (a second
    portal worker) holds SQLite's write lock, the event loop serves other requests
    and the posts arriving meanwhile join the next batch, instead of the whole
    process sleeping in SQLite's busy handler (1, 2, 5, 10 ms... steps); after
    ``LOCK_POLLS`` tries it waits in the busy handler like any writer."""
    for _ in range(LOCK_POLLS):
        outcomes = await run_sync(_record_now, portal, posts)
        if outcomes is not None:
            return outcomes
        await asyncio.sleep(LOCK_POLL_SECONDS)
    waited = await run_sync(record_posts, portal, posts)
    assert waited is not None  # waiting for the lock always ends with outcomes
    return waited


def _record_now(portal: Portal, posts: list[Post]) -> list[Outcome] | None:
    return record_posts(portal, posts, wait=False)


def _record_alone(portal: Portal, post: Post) -> Outcome:
    def work(session: Session) -> Outcome:
        return _record(session, portal, [post])[0]

    return retry_on_conflict(portal.engine, work)


def _record(session: Session, portal: Portal, posts: Sequence[Post]) -> list[Outcome]:
    outcomes: list[Outcome | None] = [None] * len(posts)
    inputs: list[DecisionInput] = []
    pending: list[tuple[int, MessageContext, str, int]] = []
    targets: dict[int, DecisionTarget] = {}
    links = open_links(session, portal, [post.payload for post in posts])
    for index, (post, link) in enumerate(zip(posts, links, strict=True)):
        if isinstance(link, LinkError):
            outcomes[index] = link
            continue
        locale = choose_locale(post.grant.language, link.contact.locale)
        codes = link.config.purposes
        if post.action == ACTION_REFUSE_ALL:
            choices = dict.fromkeys(codes, False)
        else:
            choices = explicit_choices(post.fields, codes)
        if not choices:
            outcomes[index] = NoChoice(locale)
            continue
        shared = wave_texts(portal, session, link.wave, locale)
        inputs.append(
            DecisionInput(
                request_id=link.request_id,
                choices=choices,
                method=CollectionMethod.PORTAL,
                channel=link.channel,
                evidence=post.evidence,
                nonce=post.grant.nonce,
                attempt_id=link.attempt_id,
                provider_message_id=link.provider_message_id,
                locale=locale,
                catalog=shared.catalog,
            )
        )
        pending.append((index, shared.context, locale, link.wave.id))
        # open_links read the request and the person in this unit of work: not again.
        targets[link.request_id] = DecisionTarget(
            link.request_id,
            link.request_status,
            link.wave.id,
            link.contact.id,
            link.contact.subject_id,
            link.contact.locale,
            erased=False,  # open_links refuses a link to an erased person
        )
    results = record_decisions(session, inputs, portal.ledger_context(), targets)
    for (index, context, locale, wave_id), result in zip(pending, results, strict=True):
        outcomes[index] = (
            result
            if isinstance(result, DecisionError)
            else Recorded(result, context, locale, wave_id)
        )
    return [outcome for outcome in outcomes if outcome is not None]
