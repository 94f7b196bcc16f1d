"""Signed consent receipts: Ed25519 over the canonical JSON of the receipt.

With ``RECONSENT_RECEIPT_SIGNING_KEY`` set (base64 of a 32-byte Ed25519 seed;
``reconsent receipts keygen`` makes one), every receipt carries ``publicKey``
(the Kantara field) and ``signature``; anyone holding the published public key
checks it with ``reconsent receipts verify FILE`` or :func:`verify_receipt`.
"""

from __future__ import annotations

import base64
import json
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from reconsent.kernel.errors import ConfigError

ALGORITHM = "Ed25519"


def canonical(receipt: dict[str, Any]) -> bytes:
    """The signed bytes: the receipt without ``signature``, keys sorted, no spaces."""
    body = {k: v for k, v in receipt.items() if k != "signature"}
    return json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def new_key() -> str:
    """A fresh private key as base64 (keep it secret; publish ``public_key_of`` it)."""
    seed = Ed25519PrivateKey.generate().private_bytes_raw()
    return base64.b64encode(seed).decode()


def _private(key_b64: str) -> Ed25519PrivateKey:
    try:
        return Ed25519PrivateKey.from_private_bytes(base64.b64decode(key_b64, validate=True))
    except ValueError:
        raise ConfigError(
            "RECONSENT_RECEIPT_SIGNING_KEY is not a base64 32-byte Ed25519 key"
        ) from None


def public_key_of(key_b64: str) -> str:
    raw = _private(key_b64).public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)
    return base64.b64encode(raw).decode()


def sign_receipt(receipt: dict[str, Any], key_b64: str) -> dict[str, Any]:
    key = _private(key_b64)
    signed = {**receipt, "publicKey": public_key_of(key_b64)}
    signed.pop("signature", None)
    signature = base64.b64encode(key.sign(canonical(signed))).decode()
    return {**signed, "signature": {"alg": ALGORITHM, "value": signature}}


def verify_receipt(receipt: dict[str, Any], public_key_b64: str | None = None) -> bool:
    """True when the signature holds for ``public_key_b64`` (default: the embedded one;
    pass the controller's published key to be sure the embedded one is theirs)."""
    signature = receipt.get("signature")
    key = public_key_b64 or receipt.get("publicKey")
    if not isinstance(signature, dict) or signature.get("alg") != ALGORITHM or not key:
        return False
    if public_key_b64 and receipt.get("publicKey") != public_key_b64:
        return False
    try:
        public = Ed25519PublicKey.from_public_bytes(base64.b64decode(key, validate=True))
        public.verify(
            base64.b64decode(signature.get("value", ""), validate=True), canonical(receipt)
        )
    except (InvalidSignature, ValueError):
        return False
    return True
