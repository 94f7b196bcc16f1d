"""The endpoints' signing secrets at rest: AES-256-GCM under a key kept outside the database.

The sender needs each ``whsec_`` secret itself (an HMAC key cannot be stored
hashed), so it is stored encrypted: ``base64(nonce || ciphertext)``, bound to
the endpoint's id (associated data: a box copied to another endpoint does not
open). The key is ``RECONSENT_CRM_WEBHOOK_SECRET_KEY`` (any string; its SHA-256
is the AES key), else (RECONSENT_DEV_KEYS only) one generated once into
DATA_DIR/crm-webhook-secret.key.
A dump or a read-only leak of the database gives no secret.
"""

from __future__ import annotations

import base64
import hashlib
import os
import secrets

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from reconsent.kernel.errors import ConfigError
from reconsent.kernel.rules.webhook_signing import SECRET_PREFIX

__all__ = ["SecretBox", "new_secret"]


def new_secret() -> str:
    """A fresh ``whsec_<base64 of 32 random bytes>``."""
    return SECRET_PREFIX + base64.b64encode(secrets.token_bytes(32)).decode()


class SecretBox:
    def __init__(self, key_text: str) -> None:
        self._aead = AESGCM(hashlib.sha256(key_text.encode()).digest())

    @staticmethod
    def _bound(endpoint_id: int) -> bytes:
        return f"reconsent:crm-webhook-endpoint:{endpoint_id}".encode()

    def seal(self, endpoint_id: int, secret: str) -> str:
        nonce = os.urandom(12)
        sealed = self._aead.encrypt(nonce, secret.encode(), self._bound(endpoint_id))
        return base64.b64encode(nonce + sealed).decode()

    def open(self, endpoint_id: int, box: str) -> str:
        raw = base64.b64decode(box)
        try:
            return self._aead.decrypt(raw[:12], raw[12:], self._bound(endpoint_id)).decode()
        except InvalidTag:
            raise ConfigError(
                f"the signing secret of webhook endpoint {endpoint_id} does not open with "
                "RECONSENT_CRM_WEBHOOK_SECRET_KEY (changed key?): rotate its secret"
            ) from None
