"""The settings of retention and crypto-shredding, mixed into :class:`reconsent.settings.Settings`.

Kept apart so that ``settings.py`` stays one screenful per concern; the fields are
ordinary ``RECONSENT_*`` settings (``reconsent config``, the README's table).
"""

from __future__ import annotations

import hashlib
from typing import TYPE_CHECKING

from pydantic import BaseModel, Field, PrivateAttr, SecretStr

__all__ = ["RetentionSettings"]


class RetentionSettings(BaseModel):
    evidence_key: SecretStr | None = Field(
        default=None,
        description="Key that wraps each subject's evidence data key (AES-256-GCM): the "
        "identifying evidence of consent events (IP, user agent, call and message ids, "
        "numbers' hashes) is sealed per subject, and deleting a subject's data key "
        "crypto-shreds it. Unset: refused, unless RECONSENT_DEV_KEYS (then generated once "
        "into DATA_DIR/evidence.key). Keep it outside the database: losing it makes all "
        "sealed evidence unreadable.",
    )
    retention_unanswered_months: int = Field(
        default=12,
        ge=1,
        le=240,
        description="`reconsent retention apply`: people who never answered (asked and "
        "silent, or imported and never asked) are reduced to their suppression hashes "
        "this many months after their last request or import.",
    )

    #: The derived key with what it was derived from (a portal builds a ledger context per
    #: request; a ``model_copy`` with another key or data dir derives again).
    _wrapping: tuple[object, bytes] | None = PrivateAttr(default=None)

    if TYPE_CHECKING:  # provided by Settings, which this part is mixed into

        def _dev_key(self, variable: str, file_name: str) -> str: ...

    def evidence_wrapping_key(self) -> bytes:
        """The AES-256 key that wraps the subjects' evidence keys (SHA-256 of the setting)."""
        source = (
            self.evidence_key.get_secret_value() if self.evidence_key else None,
            getattr(self, "data_dir", None),
        )
        if self._wrapping is None or self._wrapping[0] != source:
            if self.evidence_key is not None:
                text = self.evidence_key.get_secret_value()
            else:
                text = self._dev_key("RECONSENT_EVIDENCE_KEY", "evidence.key")
            self._wrapping = (source, hashlib.sha256(text.encode()).digest())
        return self._wrapping[1]
