"""The table of cases the eligibility rule is held to, as data.

Each case is one person and the verdict the rule must give for the reference
wave (purposes ``marketing_email``, ``marketing_sms``, ``marketing_phone`` bound
to e-mail, SMS and calls; steps e-mail -> SMS -> call; soft spam declared on
e-mail unless the case says otherwise). The unit tests run every case through
:func:`reconsent.kernel.rules.eligibility.evaluate`; the integration tests write
every case into SQLite and PostgreSQL and run the planning SQL over it: both
must give the expected reason, basis and channel blocks.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from reconsent.kernel.vocab import Channel, ConsentState, SuppressionReason

__all__ = ["CASES", "REFERENCE_PURPOSES", "Case", "Mark"]

#: The reference wave's purposes and the channel each is bound to.
REFERENCE_PURPOSES: dict[str, Channel] = {
    "marketing_email": Channel.EMAIL,
    "marketing_sms": Channel.SMS,
    "marketing_phone": Channel.IVR,
}
E, S, P = "marketing_email", "marketing_sms", "marketing_phone"
GIVEN, REFUSED, WITHDRAWN = ConsentState.GIVEN, ConsentState.REFUSED, ConsentState.WITHDRAWN


@dataclass(frozen=True)
class Mark:
    """The latest state of one purpose: ``fresh`` (given 30 days ago under the wave's
    notice) or stale (800 days ago), provable or not."""

    state: ConsentState
    fresh: bool = False
    provable: bool = True


@dataclass(frozen=True)
class Case:
    name: str
    reason: str
    basis: str = "prior_consent"
    #: Per step channel, the block the rule must give (None: the channel is open).
    blocks: dict[Channel, str | None] = field(default_factory=dict)
    marks: dict[str, Mark] = field(default_factory=dict)
    email: bool = True
    phone: bool = True
    customer: bool = False
    erased: bool = False
    restricted: bool = False
    every: SuppressionReason | None = None  # an every-channel suppression
    channel_suppressions: dict[Channel, SuppressionReason] = field(default_factory=dict)
    soft_spam: bool = True  # the wave declares soft spam on e-mail
    include_missing: bool = True
    #: A record of a purpose outside the wave (it makes the person "not missing").
    other_record: bool = False


OPEN: dict[Channel, str | None] = {Channel.EMAIL: None, Channel.SMS: None, Channel.IVR: None}
NO_PHONE_CONSENT: dict[Channel, str | None] = {
    Channel.SMS: "no_channel_consent",
    Channel.IVR: "no_channel_consent",
}
STALE_ALL = {E: Mark(GIVEN), S: Mark(GIVEN), P: Mark(GIVEN)}

CASES: tuple[Case, ...] = (
    Case("stale everywhere", "eligible", blocks=OPEN, marks=STALE_ALL),
    Case(
        "fresh everywhere",
        "consent_fresh",
        blocks=OPEN,
        marks={E: Mark(GIVEN, fresh=True), S: Mark(GIVEN, fresh=True), P: Mark(GIVEN, fresh=True)},
    ),
    Case(
        "fresh e-mail, stale sms and phone: asked about the stale ones",
        "eligible",
        blocks=OPEN,
        marks={E: Mark(GIVEN, fresh=True), S: Mark(GIVEN), P: Mark(GIVEN)},
    ),
    Case(
        "only an e-mail consent, a phone on file: no SMS, no call",
        "eligible",
        blocks={Channel.EMAIL: None, **NO_PHONE_CONSENT},
        marks={E: Mark(GIVEN)},
    ),
    Case(
        "an unprovable consent opens no channel (not a customer)",
        "no_lawful_basis",
        blocks={
            Channel.EMAIL: "not_customer",
            Channel.SMS: "no_channel_consent",
            Channel.IVR: "no_channel_consent",
        },
        marks={E: Mark(GIVEN, provable=False), S: Mark(GIVEN, provable=False)},
    ),
    Case(
        "an unprovable consent, a customer: e-mail under soft spam",
        "eligible",
        blocks={Channel.EMAIL: None, **NO_PHONE_CONSENT},
        marks={E: Mark(GIVEN, provable=False)},
        customer=True,
    ),
    Case(
        "no record, a customer: soft spam by e-mail only",
        "eligible",
        basis="declared",
        blocks={Channel.EMAIL: None, **NO_PHONE_CONSENT},
        customer=True,
    ),
    Case(
        "no record, not a customer",
        "no_lawful_basis",
        basis="declared",
        blocks={Channel.EMAIL: "not_customer", **NO_PHONE_CONSENT},
    ),
    Case(
        "no record, a customer, no soft spam declared",
        "no_lawful_basis",
        basis="declared",
        blocks={Channel.EMAIL: "no_channel_consent", **NO_PHONE_CONSENT},
        customer=True,
        soft_spam=False,
    ),
    Case(
        "no record and the wave does not ask those",
        "missing_not_included",
        basis="declared",
        blocks={Channel.EMAIL: None, **NO_PHONE_CONSENT},
        customer=True,
        include_missing=False,
    ),
    Case(
        "a record outside the wave only: not missing, still no channel",
        "no_lawful_basis",
        basis="declared",
        blocks={Channel.EMAIL: "not_customer", **NO_PHONE_CONSENT},
        include_missing=False,
        other_record=True,
    ),
    Case(
        "refused SMS: still asked about e-mail and phone",
        "eligible",
        blocks={Channel.EMAIL: None, Channel.SMS: "no_channel_consent", Channel.IVR: None},
        marks={E: Mark(GIVEN), S: Mark(REFUSED), P: Mark(GIVEN)},
    ),
    Case(
        "refused everything",
        "refused",
        blocks={Channel.EMAIL: "not_customer", **NO_PHONE_CONSENT},
        basis="declared",
        marks={E: Mark(REFUSED), S: Mark(REFUSED), P: Mark(REFUSED)},
    ),
    Case(
        "withdrew one, refused the others",
        "withdrawn",
        blocks={Channel.EMAIL: "not_customer", **NO_PHONE_CONSENT},
        basis="declared",
        marks={E: Mark(WITHDRAWN), S: Mark(REFUSED), P: Mark(REFUSED)},
    ),
    Case(
        "refused two, the third fresh: nothing left to ask",
        "consent_fresh",
        blocks={Channel.EMAIL: None, **NO_PHONE_CONSENT},
        marks={E: Mark(GIVEN, fresh=True), S: Mark(REFUSED), P: Mark(REFUSED)},
    ),
    Case(
        "an objection on every channel",
        "objected",
        blocks=OPEN,
        marks=STALE_ALL,
        every=SuppressionReason.OBJECTION,
    ),
    Case(
        "a spam report",
        "objected",
        blocks=OPEN,
        marks=STALE_ALL,
        every=SuppressionReason.SPAM_REPORT,
    ),
    Case("erased", "erased", blocks=OPEN, marks=STALE_ALL, erased=True),
    Case(
        "an erasure suppression (another id)",
        "erased",
        blocks=OPEN,
        marks=STALE_ALL,
        every=SuppressionReason.ERASURE,
    ),
    Case("restricted", "restricted", blocks=OPEN, marks=STALE_ALL, restricted=True),
    Case(
        "a manual every-channel suppression",
        "suppressed",
        blocks=OPEN,
        marks=STALE_ALL,
        every=SuppressionReason.MANUAL,
    ),
    Case(
        "STOP on SMS: e-mail and calls go on",
        "eligible",
        blocks={Channel.EMAIL: None, Channel.SMS: "suppressed:stop", Channel.IVR: None},
        marks=STALE_ALL,
        channel_suppressions={Channel.SMS: SuppressionReason.STOP},
    ),
    Case(
        "every channel suppressed one by one",
        "suppressed",
        blocks={
            Channel.EMAIL: "suppressed:bounce",
            Channel.SMS: "suppressed:stop",
            Channel.IVR: "suppressed:objection",
        },
        marks=STALE_ALL,
        channel_suppressions={
            Channel.EMAIL: SuppressionReason.BOUNCE,
            Channel.SMS: SuppressionReason.STOP,
            Channel.IVR: SuppressionReason.OBJECTION,
        },
    ),
    Case(
        "no address at all",
        "no_address",
        blocks={
            Channel.EMAIL: "no_address",
            Channel.SMS: "no_address",
            Channel.IVR: "no_address",
        },
        marks=STALE_ALL,
        email=False,
        phone=False,
    ),
    Case(
        "a phone consent but no phone, and no e-mail consent",
        "no_lawful_basis",
        blocks={
            Channel.EMAIL: "not_customer",
            Channel.SMS: "no_address",
            Channel.IVR: "no_address",
        },
        marks={P: Mark(GIVEN)},
        phone=False,
    ),
)
