"""The record of processing activities (GDPR art. 30(1)), built as plain data.

:func:`build_record` is pure: from the catalog in the database
(``CatalogSnapshot``), what the settings say (``ProductFacts``) and a locale, it
states (a) the controller, the DPO and the EU representative, (b) each purpose,
(c) its categories of data subjects and of personal data, (d) its recipients and
processors, (e) the transfers to third countries with their mechanism and
safeguards, (f) the time limits for erasure, (g) the technical and organisational
security measures the product applies as configured. ``gaps`` lists what the record
cannot state from the catalog and the settings (for the DPO to complete).
Rendering is ``record_render.py``.
"""

from __future__ import annotations

from dataclasses import dataclass

from reconsent.kernel.rules.transfers import TransferMechanism, is_third_country
from reconsent.records.record_inputs import CatalogPurpose, CatalogSnapshot, Party, ProductFacts
from reconsent.records.record_texts import security_measures, text

__all__ = [
    "ChannelUse",
    "Measure",
    "Record",
    "RecordProcessor",
    "RecordPurpose",
    "Transfer",
    "build_record",
]


@dataclass(frozen=True)
class RecordPurpose:
    code: str
    title: str
    description: str
    category: str
    channel: str | None
    lawful_basis: str
    lawful_basis_text: str
    data_subjects: tuple[str, ...]
    data_categories: tuple[str, ...]
    recipients: tuple[str, ...]
    #: Names of the processors it uses.
    processors: tuple[str, ...]
    third_party_sharing: bool
    sensitive: bool
    children: bool
    lifetime_months: int
    #: {"refused": 0, "withdrawn": 0, "expired": 6}: months kept after each; None: unstated.
    retention: dict[str, int] | None


@dataclass(frozen=True)
class RecordProcessor:
    code: str
    name: str
    role: str
    service: str
    country: str
    third_country: bool
    dpa_reference: str
    dpa_date: str | None
    transfer_mechanism: str
    transfer_text: str
    safeguards: tuple[str, ...]
    #: Codes of the purposes that name it.
    purposes: tuple[str, ...]
    adapter: str | None
    #: For a channel adapter: whether the settings route a channel to it.
    in_use: bool | None


@dataclass(frozen=True)
class Transfer:
    processor: str
    country: str
    mechanism: str
    mechanism_text: str
    safeguards: tuple[str, ...]


@dataclass(frozen=True)
class ChannelUse:
    channel: str
    #: "sendgrid", "twilio" or "outbox" (written to files, sent by nobody).
    provider: str
    #: The catalog processor that is that provider, if listed.
    processor: str | None
    used_by_waves: bool


@dataclass(frozen=True)
class Measure:
    code: str
    text: str


@dataclass(frozen=True)
class Record:
    locale: str
    generated_at: str
    controller: Party
    jurisdiction: str
    dpo: Party | None
    representative: Party | None
    purposes: tuple[RecordPurpose, ...]
    processors: tuple[RecordProcessor, ...]
    transfers: tuple[Transfer, ...]
    channels: tuple[ChannelUse, ...]
    retention_rules: tuple[str, ...]
    security_measures: tuple[Measure, ...]
    gaps: tuple[str, ...]


_RETENTION_RULES = ("in_force", "ledger", "suppression", "unanswered", "evidence")


def build_record(snapshot: CatalogSnapshot, facts: ProductFacts, locale: str) -> Record:
    names = {p.code: p.name for p in snapshot.processors}
    in_use = set(facts.providers.values()) - {"outbox"}
    processors = tuple(
        RecordProcessor(
            code=p.code,
            name=p.name,
            role=p.role,
            service=p.service,
            country=p.country,
            third_country=is_third_country(p.country),
            dpa_reference=p.dpa_reference,
            dpa_date=p.dpa_date.isoformat() if p.dpa_date else None,
            transfer_mechanism=p.transfer_mechanism.value,
            transfer_text=text(locale, f"transfer.{p.transfer_mechanism.value}"),
            safeguards=p.safeguards,
            purposes=tuple(u.code for u in snapshot.purposes if p.code in u.processors),
            adapter=p.adapter,
            in_use=None if p.adapter is None else p.adapter in in_use,
        )
        for p in snapshot.processors
    )
    transfers = tuple(
        Transfer(p.name, p.country, p.transfer_mechanism, p.transfer_text, p.safeguards)
        for p in processors
        if p.third_country and p.transfer_mechanism != TransferMechanism.NONE.value
    )
    by_adapter = {p.adapter: p.name for p in snapshot.processors if p.adapter}
    channels = tuple(
        ChannelUse(
            channel=channel,
            provider=provider,
            processor=by_adapter.get(provider),
            used_by_waves=channel in snapshot.rules.channels,
        )
        for channel, provider in sorted(facts.providers.items())
    )
    purposes = tuple(_purpose(p, names, locale) for p in snapshot.purposes)
    return Record(
        locale=locale,
        generated_at=facts.generated_at.isoformat(timespec="seconds"),
        controller=facts.controller,
        jurisdiction=facts.jurisdiction,
        dpo=facts.dpo,
        representative=facts.representative,
        purposes=purposes,
        processors=processors,
        transfers=transfers,
        channels=channels,
        retention_rules=tuple(
            text(locale, f"retention.{key}", months=facts.unanswered_months)
            for key in _RETENTION_RULES
        ),
        security_measures=tuple(
            Measure(code, words) for code, words in security_measures(snapshot, facts, locale)
        ),
        gaps=_gaps(snapshot, facts, channels, locale),
    )


def _purpose(purpose: CatalogPurpose, names: dict[str, str], locale: str) -> RecordPurpose:
    basis_key = f"basis.{purpose.lawful_basis}"
    basis = text(locale, basis_key, default=purpose.lawful_basis)
    return RecordPurpose(
        code=purpose.code,
        title=_localised(purpose.titles, locale, purpose.code),
        description=_localised(purpose.descriptions, locale, ""),
        category=purpose.category,
        channel=purpose.channel,
        lawful_basis=purpose.lawful_basis,
        lawful_basis_text=basis,
        data_subjects=purpose.data_subjects,
        data_categories=purpose.data_categories,
        recipients=purpose.recipients,
        processors=tuple(names.get(code, code) for code in purpose.processors),
        third_party_sharing=purpose.third_party_sharing,
        sensitive=purpose.sensitive,
        children=purpose.children,
        lifetime_months=purpose.lifetime_months,
        retention=dict(purpose.retention) if purpose.retention is not None else None,
    )


def _localised(values: dict[str, str], locale: str, default: str) -> str:
    """The text in ``locale``, else English, else any language the catalog has."""
    for key in (locale, "en", *sorted(values)):
        if values.get(key):
            return values[key]
    return default


def _gaps(
    snapshot: CatalogSnapshot,
    facts: ProductFacts,
    channels: tuple[ChannelUse, ...],
    locale: str,
) -> tuple[str, ...]:
    gaps: list[str] = []
    if facts.dpo is None:
        gaps.append(text(locale, "gap.dpo"))
    for purpose in snapshot.purposes:
        for field, key in (
            (purpose.retention, "gap.retention"),
            (purpose.data_subjects, "gap.subjects"),
            (purpose.data_categories, "gap.categories"),
        ):
            if not field:
                gaps.append(text(locale, key, code=purpose.code))
    for processor in snapshot.processors:
        if processor.dpa_date is None:
            gaps.append(text(locale, "gap.dpa_date", name=processor.name))
    for use in channels:
        if use.provider != "outbox" and use.processor is None:
            gaps.append(text(locale, "gap.adapter", provider=use.provider, channel=use.channel))
    gaps.append(text(locale, "gap.organisational"))
    return tuple(gaps)
