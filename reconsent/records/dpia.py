"""A DPIA draft (GDPR art. 35) built as plain data, for the DPO to complete.

:func:`assess_criteria` is the pure rule: which of the nine criteria of the EDPB's
WP248 guidelines the processing meets, computed from facts (the catalog's flags, the
number of people in the base against ``RECONSENT_DPIA_LARGE_SCALE_CONTACTS``, the
channels the waves use). A criterion is met (True), not met (False), or left to the
DPO (None) where the facts cannot say. Two or more met: a DPIA is likely required
(WP248, "in most cases"). :func:`build_dpia` adds the description of the processing
(the record), necessity and proportionality, the risks with the measures the product
applies as configured, and the sections only the DPO can write.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from reconsent.records.dpia_texts import dpia_text, necessity, risks, to_complete
from reconsent.records.record_inputs import CatalogSnapshot, ProductFacts
from reconsent.records.record_of_processing import Record, build_record

__all__ = ["CRITERIA", "Criterion", "Dpia", "Finding", "Risk", "assess_criteria", "build_dpia"]

#: WP248 rev.01's nine criteria, in its order.
CRITERIA = (
    "evaluation_scoring",
    "automated_decisions",
    "systematic_monitoring",
    "sensitive_data",
    "large_scale",
    "matching_datasets",
    "vulnerable_subjects",
    "innovative_technology",
    "prevents_rights",
)

#: From how many criteria met a DPIA is likely required (WP248).
LIKELY_REQUIRED_FROM = 2


@dataclass(frozen=True)
class Finding:
    """One criterion judged from facts: the reason is a text key and its parameters."""

    code: str
    met: bool | None
    reason: str
    params: dict[str, Any]


@dataclass(frozen=True)
class Criterion:
    code: str
    title: str
    met: bool | None
    reason: str


@dataclass(frozen=True)
class Risk:
    code: str
    title: str
    measures: tuple[str, ...]


@dataclass(frozen=True)
class Dpia:
    locale: str
    generated_at: str
    record: Record
    criteria: tuple[Criterion, ...]
    criteria_met: int
    likely_required: bool
    necessity: tuple[str, ...]
    risks: tuple[Risk, ...]
    to_complete: tuple[str, ...]


def assess_criteria(snapshot: CatalogSnapshot, large_scale_contacts: int) -> list[Finding]:
    purposes = snapshot.purposes
    profiling = [p.code for p in purposes if p.category == "profiling"]
    sensitive = [p.code for p in purposes if p.sensitive]
    children = [p.code for p in purposes if p.children]
    channels = snapshot.rules.channels
    waves = snapshot.rules.waves

    def found(code: str, met: bool | None, reason: str, **params: Any) -> Finding:
        return Finding(code, met, f"dpia.{code}.{reason}", params)

    return [
        found("evaluation_scoring", bool(profiling), "yes" if profiling else "no",
              codes=", ".join(profiling)),
        found("automated_decisions", False, "no"),
        found("systematic_monitoring", waves > 0, "yes" if waves else "no", waves=waves,
              channels=", ".join(channels)),
        found("sensitive_data", bool(sensitive), "yes" if sensitive else "no",
              codes=", ".join(sensitive)),
        found("large_scale", snapshot.contacts >= large_scale_contacts,
              "yes" if snapshot.contacts >= large_scale_contacts else "no",
              contacts=snapshot.contacts, threshold=large_scale_contacts),
        found("matching_datasets", None, "assess"),
        found("vulnerable_subjects", True if children else None,
              "yes" if children else "assess", codes=", ".join(children)),
        found("innovative_technology", "ivr" in channels, "yes" if "ivr" in channels else "no"),
        found("prevents_rights", False, "no"),
    ]  # fmt: skip


def build_dpia(snapshot: CatalogSnapshot, facts: ProductFacts, locale: str) -> Dpia:
    record = build_record(snapshot, facts, locale)
    findings = assess_criteria(snapshot, facts.large_scale_contacts)
    criteria = tuple(
        Criterion(
            code=f.code,
            title=dpia_text(locale, f"dpia.{f.code}"),
            met=f.met,
            reason=dpia_text(locale, f.reason, **f.params),
        )
        for f in findings
    )
    met = sum(1 for c in criteria if c.met)
    return Dpia(
        locale=locale,
        generated_at=record.generated_at,
        record=record,
        criteria=criteria,
        criteria_met=met,
        likely_required=met >= LIKELY_REQUIRED_FROM,
        necessity=necessity(snapshot, locale),
        risks=tuple(Risk(code, title, measures) for code, title, measures in risks(
            snapshot, facts, record, locale
        )),
        to_complete=to_complete(locale),
    )  # fmt: skip
