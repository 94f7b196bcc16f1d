"""Recording what a person changes in the standing preference centre (no wave, no link).

The form is the decision form's (``consent_portal.decision_posts``: a Yes/No
radio pair per purpose, read by :func:`~consent_portal.decision_posts.explicit_choices`),
for every purpose of the catalog; only a *change* is recorded: a Yes to a purpose
not given now is GIVEN, a No to one given now is WITHDRAWN (art. 7(3)), a No to one
never answered (or expired) is REFUSED; a No to one already refused or withdrawn,
or a Yes to one given, records nothing (a saved page never renews a consent
silently). Each change is a ledger event like a portal decision: collection method
``portal``, the person as actor, the notice in force shown on the page (its id,
version and digest), the session's evidence and the form's nonce as dedupe key
(the same form posted twice records once). Every "no" first takes the person's
hand-over lock (:func:`reconsent.db.hold_contacts`), as the other "no"s do, so a
message being handed to a provider either sees it or is already gone.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from models import ConsentStatus, Contact, Notice, Purpose
from reconsent.campaigns.notices import notice_for
from reconsent.db import hold_contacts
from reconsent.kernel.errors import DecisionError
from reconsent.kernel.locales import language_of
from reconsent.kernel.notice_versions import SPOKEN_MARK
from reconsent.kernel.vocab import CollectionMethod, ConsentState
from reconsent.ledger.append import LedgerContext, NewEvent, NoticeRef, append_events
from reconsent.ledger.decisions import SUBJECT_ACTOR, decision_dedupe_key
from reconsent.operators.capture import heard_state

#: The ``source`` of every event recorded here.
SOURCE = "portal:preference_centre"

__all__ = ["SOURCE", "Preferences", "current_preferences", "notice_in_force", "record_changes"]


@dataclass(frozen=True)
class Preferences:
    """The catalog's purposes, the person's state of each, and the notice in force."""

    purposes: list[Purpose]
    states: dict[str, ConsentState]
    notice: Notice | None


def notice_in_force(session: Session, locale: str, now: datetime) -> Notice | None:
    """The latest published web notice in effect at ``now`` (not a call's spoken script),
    in ``locale`` or its fallback."""
    version = session.scalar(
        select(Notice.version)
        .where(Notice.version.not_like(f"%{SPOKEN_MARK}%"), Notice.effective_from <= now)
        .order_by(Notice.effective_from.desc(), Notice.published_at.desc(), Notice.id.desc())
        .limit(1)
    )
    return None if version is None else notice_for(session, version, locale)


def current_preferences(session: Session, contact: Contact, now: datetime) -> Preferences:
    purposes = list(session.scalars(select(Purpose).order_by(Purpose.id)))
    states = {
        code: state
        for code, state in session.execute(
            select(Purpose.code, ConsentStatus.state)
            .join(ConsentStatus, ConsentStatus.purpose_id == Purpose.id)
            .where(ConsentStatus.contact_id == contact.id)
        )
    }
    notice = notice_in_force(session, language_of(contact.locale), now)
    return Preferences(purposes, states, notice)


def _changed(wanted: bool, held: ConsentState | None) -> ConsentState | None:
    """The state a choice records, or None when it changes nothing (see the module)."""
    if wanted:
        return None if held is ConsentState.GIVEN else ConsentState.GIVEN
    if held in (ConsentState.REFUSED, ConsentState.WITHDRAWN):
        return None
    return heard_state(ConsentState.REFUSED, held_given=held is ConsentState.GIVEN)


def record_changes(
    session: Session,
    contact: Contact,
    choices: Mapping[str, bool],
    *,
    evidence: dict[str, Any],
    nonce: str,
    ctx: LedgerContext,
) -> dict[str, ConsentState]:
    """Record the changes among ``choices`` (purpose code -> Yes); the states recorded."""
    if contact.erased_at is not None:
        raise DecisionError("the contact was erased: nothing can be recorded")
    if not choices:
        raise DecisionError("no explicit choice was made: nothing is recorded")
    held = current_preferences(session, contact, ctx.now)
    if held.notice is None:
        raise DecisionError("no privacy notice is published: nothing can be recorded")
    by_code = {p.code: p for p in held.purposes}
    changes = {
        code: state
        for code, wanted in choices.items()
        if code in by_code and (state := _changed(wanted, held.states.get(code))) is not None
    }
    if any(state is not ConsentState.GIVEN for state in changes.values()):
        hold_contacts(session, [contact.id], exclusive=True)
    notice = held.notice
    events = [
        NewEvent(
            contact_id=contact.id,
            subject_id=contact.subject_id,
            purpose=by_code[code],
            state=state,
            occurred_at=ctx.now,
            method=CollectionMethod.PORTAL,
            actor=SUBJECT_ACTOR,
            language=notice.locale,
            notice=NoticeRef(notice.id, notice.version, notice.digest),
            evidence=dict(evidence),
            source=SOURCE,
            dedupe_key=decision_dedupe_key(nonce, code),
        )
        for code, state in changes.items()
    ]
    written = append_events(session, events, ctx)
    recorded = {event.purpose_id for event in written}
    return {code: state for code, state in changes.items() if by_code[code].id in recorded}
