"""One-time codes that prove a person controls an address we hold: the pure rules.

A code is six digits, lives a few minutes (``CodePolicy.lifetime``), is stored
only as a keyed digest (:func:`code_digest`) and is good for one use. A wrong
code counts an attempt; the ``max_attempts``-th wrong one locks the challenge
*and* the address's new code requests for ``lock`` (:func:`check_attempt`,
:func:`request_refusal`). New requests are also limited per address hash and
per client in a sliding hour, whether or not the address is known, so the
limits tell a visitor nothing about who we hold.

No I/O here: the store (``consent_portal.code_store``) reads and writes the
rows, these functions decide.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

__all__ = [
    "CODE_DIGITS",
    "Attempt",
    "ChallengeState",
    "CodePolicy",
    "Refusal",
    "Verdict",
    "check_attempt",
    "code_digest",
    "new_code",
    "request_refusal",
    "well_formed",
]

CODE_DIGITS = 6
#: The window of the per-address and per-client request limits.
REQUEST_WINDOW = timedelta(hours=1)


@dataclass(frozen=True)
class CodePolicy:
    lifetime: timedelta = timedelta(minutes=10)
    max_attempts: int = 3
    lock: timedelta = timedelta(minutes=30)
    per_address_per_hour: int = 5
    per_client_per_hour: int = 20

    def __post_init__(self) -> None:
        if self.max_attempts < 1 or self.lifetime <= timedelta(0) or self.lock < timedelta(0):
            raise ValueError("a code policy needs a lifetime, at least one attempt and a lock")


class Verdict(StrEnum):
    OK = "ok"  # the right code, in time: the challenge is used up
    WRONG = "wrong"  # a wrong code; attempts left
    LOCKED = "locked"  # too many wrong codes (now or before): wait for the lock to end
    EXPIRED = "expired"  # too late: ask for a new code
    USED = "used"  # already used once


@dataclass(frozen=True)
class ChallengeState:
    expires_at: datetime
    attempts: int
    locked_until: datetime | None
    used_at: datetime | None


@dataclass(frozen=True)
class Attempt:
    """The verdict and the state to store after it."""

    verdict: Verdict
    attempts: int
    locked_until: datetime | None
    used_at: datetime | None
    #: Wrong codes still allowed before the lock (0 unless the verdict is WRONG).
    attempts_left: int = 0


def new_code(randbelow: Callable[[int], int]) -> str:
    """Six digits from ``randbelow`` (``secrets.randbelow`` in production), zeros kept."""
    return f"{randbelow(10**CODE_DIGITS):0{CODE_DIGITS}d}"


def well_formed(typed: str) -> str | None:
    """The code as typed, without spaces; None unless it is exactly six digits."""
    digits = "".join(typed.split())
    return digits if len(digits) == CODE_DIGITS and digits.isascii() and digits.isdigit() else None


def code_digest(key: bytes, challenge_id: str, code: str) -> str:
    """HMAC-SHA256 of the code bound to its challenge: the database never holds the code,
    and a digest copied to another challenge does not match there."""
    return hmac.new(key, f"{challenge_id}\x00{code}".encode(), hashlib.sha256).hexdigest()


def check_attempt(
    state: ChallengeState, now: datetime, matches: bool, policy: CodePolicy
) -> Attempt:
    """What one typed code does to a challenge (``matches``: its digest is the stored one).

    A locked, used or expired challenge is refused whatever was typed, and the
    attempt is not counted; otherwise a wrong code counts, and the last allowed
    wrong code locks the challenge until ``now + policy.lock``.
    """

    def unchanged(verdict: Verdict) -> Attempt:
        return Attempt(verdict, state.attempts, state.locked_until, state.used_at)

    if state.locked_until is not None and now < state.locked_until:
        return unchanged(Verdict.LOCKED)
    if state.used_at is not None:
        return unchanged(Verdict.USED)
    if state.attempts >= policy.max_attempts:
        return unchanged(Verdict.LOCKED)  # locked once, the lock since over: a new code
    if now >= state.expires_at:
        return unchanged(Verdict.EXPIRED)
    if matches:
        return Attempt(Verdict.OK, state.attempts, state.locked_until, now)
    attempts = state.attempts + 1
    if attempts >= policy.max_attempts:
        return Attempt(Verdict.LOCKED, attempts, now + policy.lock, None)
    return Attempt(Verdict.WRONG, attempts, None, None, policy.max_attempts - attempts)


class Refusal(StrEnum):
    LOCKED = "locked"  # a challenge of this address is locked
    ADDRESS_LIMIT = "address_limit"  # too many codes asked for this address this hour
    CLIENT_LIMIT = "client_limit"  # too many codes asked from this client this hour


def request_refusal(
    now: datetime,
    *,
    address_requests: Iterable[datetime],
    client_requests: Iterable[datetime],
    address_locks: Iterable[datetime | None],
    policy: CodePolicy,
) -> Refusal | None:
    """Why a new code may not be issued now (None: it may).

    ``address_requests`` / ``client_requests``: when the earlier challenges of
    this address hash / this client were created; ``address_locks``: their
    ``locked_until``. The same rule holds for an address we do not know.
    """
    if any(until is not None and now < until for until in address_locks):
        return Refusal.LOCKED
    since = now - REQUEST_WINDOW
    if sum(1 for at in address_requests if at > since) >= policy.per_address_per_hour:
        return Refusal.ADDRESS_LIMIT
    if sum(1 for at in client_requests if at > since) >= policy.per_client_per_hour:
        return Refusal.CLIENT_LIMIT
    return None
