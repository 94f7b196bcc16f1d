from __future__ import annotations

import pytest

from reconsent.kernel.errors import ConfigError
from reconsent.ledger.receipt_signing import new_key, public_key_of, sign_receipt, verify_receipt
from reconsent.ledger.receipts import build_receipt
from tests.unit.test_receipt_rules import DATA

RECEIPT = {"version": "KI-CR-v1.1.0", "piiPrincipalId": "s-1", "services": [{"purposes": []}]}


def test_a_signed_receipt_verifies_with_the_published_key() -> None:
    key = new_key()
    signed = sign_receipt(RECEIPT, key)
    assert signed["publicKey"] == public_key_of(key)
    assert verify_receipt(signed) and verify_receipt(signed, public_key_of(key))


def test_any_change_breaks_the_signature() -> None:
    signed = sign_receipt(RECEIPT, new_key())
    assert not verify_receipt({**signed, "piiPrincipalId": "s-2"})
    assert not verify_receipt({**signed, "signature": {"alg": "Ed25519", "value": "AAAA"}})
    assert not verify_receipt({k: v for k, v in signed.items() if k != "signature"})


def test_someone_elses_key_is_not_the_controllers() -> None:
    forged = sign_receipt(RECEIPT, new_key())
    assert verify_receipt(forged)  # internally consistent...
    assert not verify_receipt(forged, public_key_of(new_key()))  # ...but not ours


def test_bad_key_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match="Ed25519"):
        sign_receipt(RECEIPT, "not-a-key")


def test_the_signed_payload_is_the_whole_receipt_history_and_facts_included() -> None:
    key = new_key()
    signed = sign_receipt(build_receipt(DATA), key)
    assert verify_receipt(signed, public_key_of(key))

    [service] = signed["services"]
    shared = [{**service["purposes"][0], "thirdPartyDisclosure": True}, service["purposes"][1]]
    assert not verify_receipt({**signed, "services": [{**service, "purposes": shared}]})
    records = [{**signed["consentRecords"][0], "controller": "Someone Else"}]
    assert not verify_receipt({**signed, "consentRecords": records + signed["consentRecords"][1:]})
