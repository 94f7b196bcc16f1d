"""The settings of the portal's one-time codes and preference centre (issue 15).

A mixin of :class:`reconsent.settings.Settings` (``RECONSENT_PORTAL_CODE_*``,
``RECONSENT_PORTAL_SESSION_MINUTES``), apart only to keep ``settings.py`` under
the layout's 400 lines; every field is a field of ``Settings``.
"""

from __future__ import annotations

from pydantic import BaseModel, Field

__all__ = ["PortalCodeSettings"]


class PortalCodeSettings(BaseModel):
    portal_code_minutes: int = Field(
        default=10,
        ge=1,
        le=60,
        description="How long a one-time code (sent to an address we hold, before access, "
        "download, erasure and the preference centre) stays valid, in minutes.",
    )
    portal_code_attempts: int = Field(
        default=3,
        ge=1,
        le=10,
        description="Wrong codes that lock a one-time code challenge, and that address's new "
        "code requests, for `portal_code_lock_minutes`.",
    )
    portal_code_lock_minutes: int = Field(
        default=30, ge=1, description="How long a challenge locked by wrong codes stays locked."
    )
    portal_code_per_address: int = Field(
        default=5,
        ge=1,
        description="One-time codes asked per hour for one address (by its keyed hash, known "
        "or not); beyond: 429.",
    )
    portal_code_per_client: int = Field(
        default=20,
        ge=1,
        description="One-time codes asked per hour from one client network; beyond: 429.",
    )
    portal_session_minutes: int = Field(
        default=15,
        ge=1,
        le=120,
        description="How long the signed session a correct one-time code opens lasts (the "
        "preference centre, access, download and erasure), in minutes.",
    )
