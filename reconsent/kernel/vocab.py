"""The shared vocabulary: channels, consent states, statuses and reasons.

Plain ``StrEnum``s with no I/O, used by the pure rules, the models and the
adapters alike; their values are what the database stores.
"""

from __future__ import annotations

from enum import StrEnum


class Channel(StrEnum):
    EMAIL = "email"
    SMS = "sms"
    IVR = "ivr"

    @property
    def address_kind(self) -> AddressKind:
        return AddressKind.EMAIL if self is Channel.EMAIL else AddressKind.PHONE


class AddressKind(StrEnum):
    EMAIL = "email"
    PHONE = "phone"


class ConsentState(StrEnum):
    REQUESTED = "requested"
    GIVEN = "given"
    REFUSED = "refused"
    WITHDRAWN = "withdrawn"
    EXPIRED = "expired"
    INVALIDATED = "invalidated"


class CollectionMethod(StrEnum):
    PORTAL = "portal"  # the signed-link landing page
    IVR = "ivr"  # DTMF answer on a recorded call
    SMS = "sms"  # keyword reply
    EMAIL = "email"  # one-click unsubscribe
    IMPORTED = "imported"  # consent history from a CRM
    OPERATOR = "operator"  # recorded by staff


class WaveStatus(StrEnum):
    DRAFT = "draft"  # created; the next tick plans it
    AWAITING_APPROVAL = "awaiting_approval"  # planned on paper; a person must approve
    PLANNED = "planned"  # a dry run: planned and reported, never sent
    RUNNING = "running"
    PAUSED = "paused"  # sends nothing until resumed
    COMPLETED = "completed"
    CANCELLED = "cancelled"


class WaveAction(StrEnum):
    """What an operator does to a wave (each one an entry of the wave's audit)."""

    PAUSE = "pause"
    RESUME = "resume"
    CANCEL = "cancel"
    APPROVE = "approve"
    DECLINE = "decline"  # the audience refused: the wave is cancelled
    EDIT = "edit"
    PROMOTE = "promote"  # a dry run becomes a wave that sends


class RequestStatus(StrEnum):
    ACTIVE = "active"  # somebody still has to act: send a step, or wait for the answer
    CONFIRMED = "confirmed"  # at least one purpose given
    REFUSED = "refused"  # every answered purpose refused
    EXPIRED = "expired"  # no answer after the last step: silence is never consent
    FAILED = "failed"  # no step could reach the person
    CANCELLED = "cancelled"  # excluded at send time (objection, refusal, suppression)


class AttemptStatus(StrEnum):
    CLAIMED = "claimed"  # reserved in the database; not yet handed to the provider
    SENDING = "sending"  # handed to the provider; the outcome is not recorded yet
    SENT = "sent"  # the provider accepted it
    RETRY = "retry"  # transient failure; next_retry_at says when
    FAILED = "failed"  # permanent failure, or out of retries
    SKIPPED = "skipped"  # not sent: no address, channel suppressed, no lawful basis
    UNKNOWN = "unknown"  # a claim whose outcome was lost in a crash: presumed sent


class RequestBasis(StrEnum):
    """Why a person may be asked at all; it also chooses the message's wording."""

    PRIOR_CONSENT = "prior_consent"  # they once consented to one of the wave's purposes
    DECLARED = "declared"  # no such consent: only a declared basis (soft spam) reaches them


class DeclaredBasis(StrEnum):
    """The closed vocabulary of bases a wave may declare for people without consent."""

    #: Codice privacy art. 130(4): e-mail only, to the controller's own customers, for
    #: similar products, with an opt-out in every message. Never SMS, calls, profiling
    #: or partners.
    SOFT_SPAM = "soft_spam"


class SuppressionReason(StrEnum):
    OBJECTION = "objection"  # art. 21: absolute and immediate
    ERASURE = "erasure"
    STOP = "stop"  # SMS STOP keyword
    UNSUBSCRIBE = "unsubscribe"
    BOUNCE = "bounce"
    SPAM_REPORT = "spam_report"
    INVALID_ADDRESS = "invalid_address"
    RPO = "rpo"  # Italy's Registro Pubblico delle Opposizioni
    MANUAL = "manual"
    #: Refused every purpose a wave asked: their addresses are not asked again.
    REFUSED_ALL = "refused_all"


class Exclusion(StrEnum):
    """Why a contact is not asked by a wave (the preflight's vocabulary)."""

    FRESH = "consent_fresh"
    REFUSED = "refused"
    WITHDRAWN = "withdrawn"
    SUPPRESSED = "suppressed"
    OBJECTED = "objected"
    ERASED = "erased"
    RESTRICTED = "restricted"
    NO_ADDRESS = "no_address"
    NO_LAWFUL_BASIS = "no_lawful_basis"
    FREQUENCY_CAP = "frequency_cap"
    #: No record at all, and the wave's ``stale.include_missing`` is off.
    MISSING_NOT_INCLUDED = "missing_not_included"
    #: Shares an e-mail or a phone (transitively) with the contact this wave asks instead:
    #: one person, one request (reconsent.kernel.rules.same_person).
    DUPLICATE_PERSON = "duplicate_person"


class RightsKind(StrEnum):
    """A data subject's request from the rights centre (GDPR art. 15-21)."""

    ACCESS = "access"  # art. 15: see my data
    PORTABILITY = "portability"  # art. 20: download it (JSON, CSV)
    RECTIFICATION = "rectification"  # art. 16: a correction an operator applies
    RESTRICTION = "restriction"  # art. 18: no processing (no wave contacts the person)
    OBJECTION = "objection"  # art. 21: marketing stops at once, on every channel
    ERASURE = "erasure"  # art. 17: identity removed, a hash kept in the suppression list
    LINK_RENEWAL = "link_renewal"  # a fresh signed link, asked from an expired one


class RightsStatus(StrEnum):
    OPEN = "open"  # somebody must act (an operator, or the link-renewal sender)
    COMPLETED = "completed"  # done (most requests are done as they are received)
    DECLINED = "declined"  # not done, with the reason in details (e.g. no lawful contact)
