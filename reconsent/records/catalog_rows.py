"""Read the catalog and the shape of the processing from the database, as plain data.

The one database read behind ``reconsent record export`` and ``reconsent dpia draft``:
purposes and processors as stored by ``reconsent catalog load`` (so changing the
catalog changes the record), counts (people, suppressions: never who), and what the
waves' configurations say about how people are contacted.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from models import Contact, Processor, Purpose, RpoConsultation, Suppression, Wave
from models.consent import suppression_in_force
from reconsent.kernel.durations import parse_duration
from reconsent.records.record_inputs import (
    CatalogProcessor,
    CatalogPurpose,
    CatalogSnapshot,
    ContactRules,
)

__all__ = ["read_snapshot"]


def read_snapshot(session: Session) -> CatalogSnapshot:
    purposes = tuple(
        CatalogPurpose(
            code=p.code,
            category=p.category,
            channel=p.channel.value if p.channel else None,
            lawful_basis=p.lawful_basis,
            lifetime_months=p.lifetime_months,
            titles={k: str(v) for k, v in p.titles.items()},
            descriptions={k: str(v) for k, v in p.descriptions.items()},
            third_party_sharing=p.third_party_sharing,
            sensitive=p.sensitive,
            children=p.children,
            data_categories=tuple(p.data_categories),
            recipients=tuple(p.recipients),
            retention=p.retention_policy.as_json() if p.retention_policy else None,
            processors=tuple(p.processors),
            data_subjects=tuple(p.data_subjects),
        )
        for p in session.scalars(select(Purpose).order_by(Purpose.id))
    )
    processors = tuple(
        CatalogProcessor(
            code=p.code,
            name=p.name,
            role=p.role,
            service=p.service,
            country=p.country,
            dpa_reference=p.dpa_reference,
            dpa_date=p.dpa_date,
            transfer_mechanism=p.transfer_mechanism,
            safeguards=tuple(p.safeguards),
            adapter=p.adapter,
        )
        for p in session.scalars(select(Processor).order_by(Processor.id))
    )
    contacts = session.scalar(
        select(func.count()).select_from(Contact).where(Contact.erased_at.is_(None))
    )
    suppressions = session.scalar(
        select(func.count()).select_from(Suppression).where(suppression_in_force())
    )
    return CatalogSnapshot(
        purposes=purposes,
        processors=processors,
        contacts=contacts or 0,
        suppressions=suppressions or 0,
        rules=contact_rules([config for config in session.scalars(select(Wave.config))]),
        rpo_last_consulted=session.scalar(select(func.max(RpoConsultation.consulted_at))),
    )


def contact_rules(configs: list[dict[str, Any]]) -> ContactRules:
    """Aggregate the waves' stored configurations (validated ``WaveConfig`` dumps)."""
    channels: list[str] = []
    quiet: dict[str, set[str]] = {}
    caps: set[tuple[int, int]] = set()
    days: set[int] = set()
    soft_spam = 0
    for config in configs:
        for step in config.get("steps", []):
            channel = str(step["channel"])
            if channel not in channels:
                channels.append(channel)
            preset = config.get("quiet_hours", {}).get(channel)
            if preset:
                quiet.setdefault(channel, set()).add(str(preset))
        cap = config.get("frequency_cap")
        if cap:
            caps.add((int(cap["max_requests"]), int(cap["days"])))
        lifetime = config.get("link_lifetime")
        if lifetime:
            days.add(max(1, round(parse_duration(str(lifetime)).total_seconds() / 86400)))
        if config.get("lawful_basis", {}).get("email") == "soft_spam":
            soft_spam += 1
    return ContactRules(
        channels=tuple(channels),
        quiet_hours={channel: tuple(sorted(presets)) for channel, presets in quiet.items()},
        frequency_caps=tuple(sorted(caps)),
        link_days=tuple(sorted(days)),
        waves=len(configs),
        soft_spam_waves=soft_spam,
    )
