"""What the settings say about the processing: the controller, the DPO and the EU
representative, who serves each channel, and the security measures switched on.

``providers`` (channel -> "sendgrid", "twilio" or "outbox") comes from the wiring
(``reconsent.wiring.provider_for``), which the caller asks: this module reads no
adapter and no database.
"""

from __future__ import annotations

from datetime import datetime
from urllib.parse import urlsplit

from sqlalchemy.engine import make_url

from reconsent.records.record_inputs import Party, ProductFacts, SecurityFacts
from reconsent.settings import Settings

__all__ = ["product_facts"]


def product_facts(settings: Settings, providers: dict[str, str], now: datetime) -> ProductFacts:
    return ProductFacts(
        controller=Party(
            name=settings.controller_name,
            contact=settings.controller_contact,
            address=settings.controller_address,
            phone=settings.controller_phone,
        ),
        jurisdiction=settings.jurisdiction,
        dpo=_party(settings.dpo_name, settings.dpo_contact),
        representative=_party(settings.eu_representative_name, settings.eu_representative_contact),
        providers=dict(providers),
        security=security_facts(settings),
        large_scale_contacts=settings.dpia_large_scale_contacts,
        generated_at=now,
        unanswered_months=settings.retention_unanswered_months,
    )


def security_facts(settings: Settings) -> SecurityFacts:
    database = make_url(settings.database_url).get_backend_name()
    cap = settings.api_frequency_cap
    return SecurityFacts(
        database=database,
        least_privilege_roles=database == "postgresql" and settings.database_owner_url is not None,
        checkpoint_signing=settings.checkpoint_signing_key is not None,
        daily_checkpoints=(
            settings.checkpoint_signing_key is not None and settings.checkpoint_dir is not None
        ),
        receipt_signing=settings.receipt_signing_key is not None,
        portal_https=urlsplit(settings.portal_base_url).scheme == "https",
        portal_rate_per_ip=settings.portal_rate_per_ip,
        portal_rate_per_token=settings.portal_rate_per_token,
        evidence_ip_truncate=settings.evidence_ip_truncate,
        sendgrid_events_verified=bool(settings.sendgrid_event_public_key),
        api_frequency_cap=(cap, settings.api_frequency_cap_days) if cap else None,
        api_calling_hours={
            "ivr": settings.api_calling_hours_ivr,
            "sms": settings.api_calling_hours_sms,
        },
        rpo_validity_days=settings.rpo_validity_days,
    )


def _party(name: str | None, contact: str | None) -> Party | None:
    if not (name or "").strip():
        return None
    return Party(name=(name or "").strip(), contact=(contact or "").strip())
