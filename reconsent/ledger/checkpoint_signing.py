"""Ed25519 keys and signatures of ledger checkpoints.

``RECONSENT_CHECKPOINT_SIGNING_KEY`` is the base64 of a 32-byte Ed25519 seed
(``reconsent ledger checkpoint-keygen`` makes one). Keep it apart from the
database credentials (a secret store the sweep reads): whoever holds both can
sign a rewritten history. Publish the public key (base64, or the PEM the
keygen prints) where an auditor can find it; a signature is over the exact
bytes of a checkpoint's statement file.
"""

from __future__ import annotations

import base64

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from reconsent.kernel.errors import ConfigError

ALGORITHM = "Ed25519"
SETTING = "RECONSENT_CHECKPOINT_SIGNING_KEY"


def new_key() -> str:
    """A fresh private key as base64 (keep it secret; publish ``public_key_of`` it)."""
    return base64.b64encode(Ed25519PrivateKey.generate().private_bytes_raw()).decode()


def _private(key_b64: str) -> Ed25519PrivateKey:
    try:
        return Ed25519PrivateKey.from_private_bytes(base64.b64decode(key_b64, validate=True))
    except ValueError:
        raise ConfigError(f"{SETTING} is not a base64 32-byte Ed25519 key") from None


def _public(key_b64: str) -> Ed25519PublicKey:
    try:
        return Ed25519PublicKey.from_public_bytes(base64.b64decode(key_b64, validate=True))
    except ValueError:
        raise ConfigError(f"{key_b64!r} is not a base64 32-byte Ed25519 public key") from None


def public_key_of(key_b64: str) -> str:
    raw = _private(key_b64).public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)
    return base64.b64encode(raw).decode()


def public_pem(public_b64: str) -> str:
    """The public key as PEM (SubjectPublicKeyInfo), for ``openssl pkeyutl -verify``."""
    pem = _public(public_b64).public_bytes(Encoding.PEM, PublicFormat.SubjectPublicKeyInfo)
    return pem.decode()


def sign(data: bytes, key_b64: str) -> str:
    """The base64 Ed25519 signature of ``data``."""
    return base64.b64encode(_private(key_b64).sign(data)).decode()


def signature_holds(data: bytes, signature_b64: str, public_b64: str) -> bool:
    """True when ``signature_b64`` is ``public_b64``'s signature of ``data``.

    A malformed public key is the caller's mistake (``ConfigError``); a malformed
    signature is just one that does not hold.
    """
    public = _public(public_b64)
    try:
        public.verify(base64.b64decode(signature_b64.strip(), validate=True), data)
    except (InvalidSignature, ValueError):
        return False
    return True
