"""The one-time code challenges in the database: issue one, check a typed code.

The rules (lifetime, attempts, lock, request limits) are
:mod:`reconsent.kernel.rules.one_time_codes`; this module reads and writes the
``one_time_codes`` rows in the caller's writing unit of work
(:func:`consent_portal.state.retry_on_conflict`). A challenge is stored even for
an address we do not hold (no contact, a digest of no code): the same rows, the
same limits and the same answers, known address or not.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from models import Contact, OneTimeCode
from reconsent.kernel.rules.one_time_codes import (
    REQUEST_WINDOW,
    ChallengeState,
    CodePolicy,
    Refusal,
    Verdict,
    check_attempt,
    code_digest,
    new_code,
    request_refusal,
)
from reconsent.kernel.vocab import Channel
from reconsent.settings import Settings

CODE_SALT = b"reconsent.portal.one-time-code.v1"
CLIENT_SALT = b"reconsent.portal.client.v1"

__all__ = [
    "Checked",
    "Issued",
    "Target",
    "check_code",
    "client_digest",
    "code_keys",
    "issue_challenge",
    "policy_of",
]


@dataclass(frozen=True)
class Target:
    """Where a code goes: the person and the address we hold (None: we hold nobody)."""

    address_hash: str
    contact: Contact | None
    channel: Channel | None
    request_id: int | None = None

    @property
    def to(self) -> str | None:
        if self.contact is None or self.channel is None:
            return None
        return self.contact.email if self.channel is Channel.EMAIL else self.contact.phone


@dataclass(frozen=True)
class Issued:
    challenge_id: int
    public_id: str
    #: The code to send; only when there is someone to send it to.
    code: str | None


@dataclass(frozen=True)
class Checked:
    verdict: Verdict
    attempts_left: int
    contact_id: int | None = None
    request_id: int | None = None
    #: Where the code went: the channel the person proved they control.
    channel: Channel | None = None


def policy_of(settings: Settings) -> CodePolicy:
    return CodePolicy(
        lifetime=timedelta(minutes=settings.portal_code_minutes),
        max_attempts=settings.portal_code_attempts,
        lock=timedelta(minutes=settings.portal_code_lock_minutes),
        per_address_per_hour=settings.portal_code_per_address,
        per_client_per_hour=settings.portal_code_per_client,
    )


def code_keys(settings: Settings) -> list[bytes]:
    """The code digest keys, newest first: one derived from each link-signing key."""
    keys = settings.link_signing_keys()
    return [hmac.new(k.encode(), CODE_SALT, hashlib.sha256).digest() for k in reversed(keys)]


def client_digest(address_key: bytes, network: str | None) -> str:
    """A keyed hash of the client's network (the per-client limit; no address in clear)."""
    return hmac.new(
        address_key, CLIENT_SALT + (network or "-").encode(), hashlib.sha256
    ).hexdigest()


def issue_challenge(
    session: Session,
    target: Target,
    *,
    client_hash: str,
    now: datetime,
    policy: CodePolicy,
    keys: list[bytes],
) -> Issued | Refusal:
    """A new challenge for ``target``, or why not (a lock, a request limit)."""
    since = now - max(REQUEST_WINDOW, policy.lock)
    by_address = session.execute(
        select(OneTimeCode.created_at, OneTimeCode.locked_until).where(
            OneTimeCode.address_hash == target.address_hash, OneTimeCode.created_at > since
        )
    ).all()
    by_client = session.scalars(
        select(OneTimeCode.created_at).where(
            OneTimeCode.client_hash == client_hash,
            OneTimeCode.created_at > now - REQUEST_WINDOW,
        )
    ).all()
    refusal = request_refusal(
        now,
        address_requests=[row.created_at for row in by_address],
        client_requests=by_client,
        address_locks=[row.locked_until for row in by_address],
        policy=policy,
    )
    if refusal is not None:
        return refusal
    public_id = secrets.token_urlsafe(24)
    code = new_code(secrets.randbelow)
    sendable = target.to is not None
    row = OneTimeCode(
        public_id=public_id,
        address_hash=target.address_hash,
        contact_id=target.contact.id if sendable and target.contact else None,
        channel=target.channel if sendable else None,
        request_id=target.request_id,
        # Nobody to send to: the digest of a code nobody will ever see.
        code_digest=code_digest(keys[0], public_id, code if sendable else secrets.token_hex(8)),
        client_hash=client_hash,
        created_at=now,
        expires_at=now + policy.lifetime,
        attempts=0,
    )
    session.add(row)
    session.flush()
    return Issued(row.id, public_id, code if sendable else None)


def check_code(
    session: Session,
    public_id: str,
    typed: str | None,
    *,
    now: datetime,
    policy: CodePolicy,
    keys: list[bytes],
) -> Checked:
    """Check ``typed`` (a well-formed code, or None) against the challenge ``public_id``.

    The row is read for update (PostgreSQL; SQLite's writer holds the database), so two
    guesses at once count as two. An unknown challenge id answers WRONG, like a wrong code.
    """
    row = session.scalar(
        select(OneTimeCode).where(OneTimeCode.public_id == public_id).with_for_update()
    )
    if row is None:
        return Checked(Verdict.WRONG, 0)
    matches = typed is not None and any(
        hmac.compare_digest(code_digest(key, public_id, typed), row.code_digest) for key in keys
    )
    state = ChallengeState(row.expires_at, row.attempts, row.locked_until, row.used_at)
    attempt = check_attempt(state, now, matches and row.contact_id is not None, policy)
    row.attempts, row.locked_until, row.used_at = (
        attempt.attempts,
        attempt.locked_until,
        attempt.used_at,
    )
    if attempt.verdict is not Verdict.OK:
        return Checked(attempt.verdict, attempt.attempts_left)
    return Checked(Verdict.OK, 0, row.contact_id, row.request_id, row.channel)
