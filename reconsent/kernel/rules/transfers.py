"""Transfers of personal data outside the EEA (GDPR chapter V): which countries are
third countries, and which transfer mechanisms a processor's country admits.

A processor in the EEA needs no mechanism (``none``); one outside it needs one:
an adequacy decision (art. 45), the EU-US Data Privacy Framework (the adequacy
decision of 10 July 2023, for certified US organisations only), the standard
contractual clauses (art. 46(2)(c), Commission Decision (EU) 2021/914), binding
corporate rules (art. 47) or a derogation (art. 49). Which countries have an
adequacy decision is not checked here: the catalog states it, the DPO answers for it.
"""

from __future__ import annotations

from enum import StrEnum

__all__ = ["EEA_COUNTRIES", "TransferMechanism", "is_third_country", "transfer_problem"]

#: The 27 EU member states and Iceland, Liechtenstein, Norway (ISO 3166-1 alpha-2).
EEA_COUNTRIES = frozenset(
    {
        "AT", "BE", "BG", "HR", "CY", "CZ", "DK", "EE", "FI", "FR", "DE", "GR", "HU", "IE", "IT",
        "LV", "LT", "LU", "MT", "NL", "PL", "PT", "RO", "SK", "SI", "ES", "SE", "IS", "LI", "NO",
    }
)  # fmt: skip


class TransferMechanism(StrEnum):
    NONE = "none"  # processed inside the EEA: no transfer
    ADEQUACY = "adequacy"  # art. 45 adequacy decision for the country
    EU_US_DPF = "eu_us_dpf"  # EU-US Data Privacy Framework (certified US organisation)
    SCCS = "sccs"  # art. 46(2)(c) standard contractual clauses
    BCR = "bcr"  # art. 47 binding corporate rules
    DEROGATION = "derogation"  # art. 49 derogation for specific situations


def is_third_country(country: str) -> bool:
    """True for a country outside the EEA (a transfer under GDPR chapter V)."""
    return country.upper() not in EEA_COUNTRIES


def transfer_problem(country: str, mechanism: TransferMechanism) -> str | None:
    """Why ``mechanism`` cannot cover processing in ``country`` (None: it can)."""
    if not is_third_country(country):
        if mechanism is not TransferMechanism.NONE:
            return f"{country} is in the EEA: there is no transfer (transfer_mechanism = 'none')"
        return None
    if mechanism is TransferMechanism.NONE:
        return (
            f"{country} is outside the EEA: name the transfer mechanism (adequacy, eu_us_dpf, "
            "sccs, bcr or derogation)"
        )
    if mechanism is TransferMechanism.EU_US_DPF and country.upper() != "US":
        return "the EU-US Data Privacy Framework covers only the United States (country 'US')"
    return None
