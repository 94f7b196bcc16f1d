"""Recording a chunk's send results: sent, retry with backoff, or failed and escalated
(a permanent per-recipient failure also suppresses that address on that channel)."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, timedelta

from sqlalchemy import Engine, String, bindparam, cast, literal, select, update
from sqlalchemy.orm import Session

from models import Contact, SendAttempt, WaveRequest
from reconsent.db import among, unit_of_work
from reconsent.dispatch.batch_report import BatchReport
from reconsent.dispatch.claims import ATTEMPTS, REQUESTS
from reconsent.kernel.ports import SendOutcome, SendResult
from reconsent.kernel.rules.retry import backoff
from reconsent.kernel.vocab import AttemptStatus, Channel, SuppressionReason
from reconsent.ledger.suppression_list import suppress_address
from reconsent.settings import Settings


def record_results(
    engine: Engine,
    settings: Settings,
    token: str,
    sent_to: Mapping[int, tuple[int, Channel]],
    waits: Mapping[int, timedelta],
    results: list[SendResult],
    now: datetime,
    report: BatchReport,
) -> None:
    """Record what the provider answered for one chunk, in one transaction.

    ``sent_to`` maps each attempt of the chunk to its (request id, channel). The
    common case, accepted messages, is two ``executemany`` UPDATEs guarded by this
    chunk's claim token; failures go through the ORM (they are few and branchy).
    """
    accepted = [r for r in results if r.outcome is SendOutcome.SENT]
    rejected = [r for r in results if r.outcome is not SendOutcome.SENT]
    with unit_of_work(engine) as session:
        if accepted:
            _record_accepted(session, token, sent_to, waits, accepted, now, report)
        if rejected:
            _record_rejected(session, settings, token, rejected, now, report)


def _record_accepted(
    session: Session,
    token: str,
    sent_to: Mapping[int, tuple[int, Channel]],
    waits: Mapping[int, timedelta],
    results: list[SendResult],
    now: datetime,
    report: BatchReport,
) -> None:
    conn = session.connection()
    a = ATTEMPTS.c
    mine = (a.claim_token == token, a.status == AttemptStatus.SENDING.value)
    sent = {"status": AttemptStatus.SENT.value, "sent_at": now, "tries": a.tries + 1}
    # A provider id ending in the attempt id (SendGrid "<X-Message-Id>.<attempt>", the
    # outbox "outbox-<attempt>") is its prefix plus the id: one UPDATE per prefix.
    by_prefix: dict[tuple[str, str], list[SendResult]] = {}
    one_by_one: list[SendResult] = []
    for r in results:
        suffix, mid = str(r.attempt_id), r.provider_message_id
        if mid is not None and mid.endswith(suffix):
            by_prefix.setdefault((r.provider, mid[: -len(suffix)]), []).append(r)
        else:
            one_by_one.append(r)
    for (provider, prefix), group in by_prefix.items():
        if len(group) == 1:
            one_by_one += group
            continue
        conn.execute(
            update(ATTEMPTS)
            .where(among(conn, a.id, [r.attempt_id for r in group]), *mine)
            .values(
                {
                    **sent,
                    "provider": provider,
                    "provider_message_id": literal(prefix, String) + cast(a.id, String),
                }
            )
        )
    if one_by_one:
        conn.execute(
            update(ATTEMPTS)
            .where(a.id == bindparam("aid"), *mine)
            .values(
                {**sent, "provider": bindparam("provider"), "provider_message_id": bindparam("mid")}
            ),
            [
                {"aid": r.attempt_id, "provider": r.provider, "mid": r.provider_message_id}
                for r in one_by_one
            ],
        )
    due: dict[timedelta, list[int]] = {}  # the step's wait -> its requests
    for r in results:
        rid, channel = sent_to[r.attempt_id]
        due.setdefault(waits[r.attempt_id], []).append(rid)
        report.sent[channel.value] += 1
    for wait, request_ids in due.items():
        conn.execute(
            update(REQUESTS)
            .where(among(conn, REQUESTS.c.id, request_ids))
            .values(step_sent_at=now, next_action_at=now + wait)
        )


def _record_rejected(
    session: Session,
    settings: Settings,
    token: str,
    results: list[SendResult],
    now: datetime,
    report: BatchReport,
) -> None:
    by_id = {
        a.id: a
        for a in session.scalars(
            select(SendAttempt).where(
                among(session, SendAttempt.id, [r.attempt_id for r in results]),
                SendAttempt.claim_token == token,
            )
        )
    }
    requests = {
        r.id: r
        for r in session.scalars(
            select(WaveRequest).where(
                among(session, WaveRequest.id, [a.request_id for a in by_id.values()])
            )
        )
    }
    for result in results:
        attempt = by_id.get(result.attempt_id)
        if attempt is None or attempt.status is not AttemptStatus.SENDING:
            continue
        request = requests[attempt.request_id]
        attempt.provider = result.provider
        attempt.tries += 1
        channel = attempt.channel.value
        attempt.error_code = result.error_code
        attempt.error_detail = result.error_detail
        if result.outcome is SendOutcome.TRANSIENT and attempt.tries < settings.send_max_tries:
            attempt.status = AttemptStatus.RETRY
            attempt.next_retry_at = now + backoff(attempt.tries, result.retry_after)
            request.next_action_at = attempt.next_retry_at
            report.retrying[f"{channel}:{result.error_code}"] += 1
            continue
        attempt.status = AttemptStatus.FAILED
        request.next_action_at = now  # escalate to the next step at once
        report.failed[f"{channel}:{result.error_code}"] += 1
        if result.outcome is SendOutcome.PERMANENT:
            _suppress_address(session, request, attempt, result, now)


def _suppress_address(
    session: Session, request: WaveRequest, attempt: SendAttempt, result: SendResult, now: datetime
) -> None:
    """A permanent per-recipient error: stop using that address on that channel."""
    contact = session.get(Contact, request.contact_id)
    digest = (
        None
        if contact is None
        else (contact.email_hash if attempt.channel is Channel.EMAIL else contact.phone_hash)
    )
    if contact is None or digest is None:
        return
    email = attempt.channel is Channel.EMAIL
    suppress_address(
        session,
        address_hash=digest,
        channel=attempt.channel,
        reason=SuppressionReason.BOUNCE if email else SuppressionReason.INVALID_ADDRESS,
        source=f"{result.provider}:{result.error_code}",
        now=now,
        contact_id=contact.id,
    )
