"""Which evidence of a consent event identifies a person, and how it is split.

Evidence proves how an answer was given (art. 7(1)); some of it also points at
the person: the client address and browser of a portal post, the call and
message ids a provider can resolve to a phone number, the number's keyed hash,
a call recording, a CRM's reference to a signed form. Those values are written
to the ledger sealed under the subject's own data key
(:mod:`reconsent.ledger.evidence_sealing`), so that deleting the key
crypto-shreds them while the hash chain, which covers the sealed form, still
verifies. Everything else (the link's token digest, the form nonce, the key
pressed, the purpose asked, the import file and line) stays readable.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

__all__ = ["IDENTIFYING_KEYS", "SEALED_KEY", "SHREDDED_KEY", "identifying_in_clear", "split"]

#: Evidence keys whose values identify (or lead a provider to) a person.
IDENTIFYING_KEYS = frozenset(
    {
        "ip",  # portal posts: the client address
        "user_agent",  # portal posts: the browser
        "call_sid",  # Twilio CallSid: the provider's log names the number
        "call_id",  # an operator's call id (the dialler's log names the number)
        "recording_ref",  # an operator's call recording: the person's voice
        "message_sid",  # Twilio MessageSid of an inbound SMS
        "from_hash",  # the keyed hash of the caller's / sender's number
        "to_hash",  # the keyed hash of the number called
        "evidence_ref",  # a CRM's reference to the signed form or recording
    }
)
#: Where the sealed values sit in a stored evidence object (ledger hash v3).
SEALED_KEY = "sealed"
#: Marks evidence whose identifying values were dropped: the subject's key was already
#: shredded when the event was written (nothing of theirs is kept readable again).
SHREDDED_KEY = "evidence_shredded"


def split(evidence: Mapping[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    """``(clear, identifying)``: the values kept readable, and those to seal (a None
    value identifies nobody and stays in clear)."""
    clear: dict[str, Any] = {}
    identifying: dict[str, Any] = {}
    for key, value in evidence.items():
        if key in IDENTIFYING_KEYS and value is not None:
            identifying[key] = value
        else:
            clear[key] = value
    return clear, identifying


def identifying_in_clear(evidence: Mapping[str, Any]) -> list[str]:
    """The identifying keys a stored (sealed-form) evidence object still holds in clear."""
    return sorted(k for k, v in evidence.items() if k in IDENTIFYING_KEYS and v is not None)
