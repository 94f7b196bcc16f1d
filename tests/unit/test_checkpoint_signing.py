from __future__ import annotations

import base64

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from cryptography.hazmat.primitives.serialization import load_pem_public_key

from reconsent.kernel.errors import ConfigError
from reconsent.ledger.checkpoint_signing import (
    new_key,
    public_key_of,
    public_pem,
    sign,
    signature_holds,
)

DATA = b'{"last_event_id":10,"statement":"reconsent ledger checkpoint"}\n'


def test_a_signature_holds_for_its_key_only() -> None:
    key = new_key()
    signature = sign(DATA, key)
    assert signature_holds(DATA, signature, public_key_of(key))
    assert not signature_holds(DATA + b" ", signature, public_key_of(key))
    assert not signature_holds(DATA, signature, public_key_of(new_key()))
    assert not signature_holds(DATA, "not base64!", public_key_of(key))


def test_the_pem_is_the_same_key() -> None:
    public = public_key_of(new_key())
    loaded = load_pem_public_key(public_pem(public).encode())
    assert isinstance(loaded, Ed25519PublicKey)
    assert base64.b64encode(loaded.public_bytes_raw()).decode() == public


def test_bad_keys_are_named() -> None:
    with pytest.raises(ConfigError, match="RECONSENT_CHECKPOINT_SIGNING_KEY"):
        sign(DATA, "short")
    with pytest.raises(ConfigError, match="public key"):
        signature_holds(DATA, sign(DATA, new_key()), "short")
