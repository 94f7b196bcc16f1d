"""A deterministic sample contact base for the demo: two CSV files ready to import.

About 70% Italian and 30% British contacts with realistic names, emails on
reserved domains (example.com / .it / .org) and valid mobile numbers, and a
consent history over the marketing purposes of ``examples/catalog.toml`` that
covers every case a wave must tell apart.  About :data:`TWIN_SHARE` of the
contacts are a person already in the base under another CRM id (the same name
and e-mail, or phone, as an earlier contact of their language): a wave asks
each of those people once.  The files also hold a few deliberately bad rows, to
show how imports report them.

A consent cites the notice version in effect when it was captured
(:data:`NOTICES`, as ``examples/catalog.toml`` publishes them): the one its
history prefers if it had taken effect by then, else the latest that had, else
none (consents older than every notice cite no version).
"""

from __future__ import annotations

import csv
import random
import unicodedata
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import phonenumbers

from reconsent.imports.rows import (
    CONSENT_COLUMNS,
    CONSENT_OPTIONAL_COLUMNS,
    CONTACT_COLUMNS,
)
from reconsent.kernel.clock import ensure_utc

#: Consent histories, with their share of the base (percent).
CATEGORIES: dict[str, int] = {
    "fresh": 30,  # given under 2026-09 less than a year ago, with evidence
    "stale": 25,  # given 2-4 years ago
    "old_notice": 10,  # given recently, but under the 2024-01 notice
    "missing": 15,  # no record at all
    "refused": 10,  # refused (sometimes after an earlier consent)
    "withdrawn": 10,  # given, then withdrawn
}
#: The notice versions of ``examples/catalog.toml`` and when each took effect, newest first.
NOTICES: tuple[tuple[str, datetime], ...] = (
    ("2026-09", datetime(2026, 9, 1, tzinfo=UTC)),
    ("2024-01", datetime(2024, 1, 1, tzinfo=UTC)),
)
PURPOSE_BY_ADDRESS = {"email": "marketing_email", "sms": "marketing_sms", "ivr": "marketing_phone"}
SOURCES = ("salesforce", "hubspot", "legacy-crm")
#: Share of the base with a sale on record (``customer_since``): the soft-spam evidence.
CUSTOMER_SHARE = 0.6
#: Share of the contacts that are another CRM id of an earlier contact (same address).
TWIN_SHARE = 0.02
BAD_CONTACT_ROWS = 3
BAD_CONSENT_ROWS = 2

_IT_GIVEN = (
    "Giulia", "Francesca", "Chiara", "Sara", "Martina", "Alessia", "Valentina", "Elena",
    "Federica", "Silvia", "Beatrice", "Ilaria", "Marco", "Luca", "Alessandro", "Andrea",
    "Matteo", "Lorenzo", "Davide", "Simone", "Niccolò", "Gabriele", "Riccardo", "Tommaso",
    "Pietro", "Giuseppe", "Antonio", "Salvatore", "Francesco", "Nicola",
)  # fmt: skip
_IT_FAMILY = (
    "Rossi", "Russo", "Ferrari", "Esposito", "Bianchi", "Romano", "Colombo", "Ricci",
    "Marino", "Greco", "Bruno", "Gallo", "Conti", "De Luca", "Mancini", "Costa", "Giordano",
    "Rizzo", "Lombardi", "Moretti", "Barbieri", "Fontana", "Santoro", "Mariani", "Rinaldi",
    "Caruso", "Ferrara", "Galli", "D'Amico", "Fabbri", "Sanna", "Pellegrino", "Cocco",
)  # fmt: skip
_EN_GIVEN = (
    "Oliver", "George", "Harry", "Jack", "Charlie", "Thomas", "James", "William", "Henry",
    "Samuel", "Olivia", "Amelia", "Isla", "Ava", "Emily", "Sophie", "Grace", "Lily",
    "Chloe", "Hannah", "Siobhan", "Rhys",
)  # fmt: skip
_EN_FAMILY = (
    "Smith", "Jones", "Taylor", "Brown", "Williams", "Wilson", "Johnson", "Davies",
    "Robinson", "Wright", "Thompson", "Evans", "Walker", "White", "Roberts", "Green",
    "Hall", "Wood", "Jackson", "Clarke", "O'Brien", "Patel", "Khan", "MacDonald",
)  # fmt: skip
_IT_MOBILE_PREFIXES = (
    "320", "324", "327", "328", "329", "330", "331", "333", "334", "335", "336", "337",
    "338", "339", "340", "342", "345", "346", "347", "348", "349", "366", "380", "388",
    "389", "391", "392", "393",
)  # fmt: skip


@dataclass(frozen=True)
class SampleFiles:
    contacts_csv: Path
    consents_csv: Path
    #: contacts, italian, english, no_email, no_phone, one count per history
    #: category, consent_rows, bad_contact_rows, bad_consent_rows.
    counts: dict[str, int]


def write_sample(dir: Path, n: int = 1000, seed: int = 7, *, now: datetime) -> SampleFiles:
    """Write ``contacts.csv`` and ``consents.csv`` under ``dir``; same seed, same files."""
    if n < 4:
        raise ValueError("a sample needs at least 4 contacts")
    now = ensure_utc(now).replace(microsecond=0)
    generator = _Generator(random.Random(seed), now)
    sales = random.Random(seed + 1)  # its own stream: the rest of the base stays as it was
    contacts: list[list[str]] = []
    consents: list[list[str]] = []
    counts: Counter[str] = Counter()
    for index in range(n):
        contact, history, traits = generator.person(index)
        customer = ""
        if sales.random() < CUSTOMER_SHARE:
            customer = (now - timedelta(days=sales.randint(30, 3000))).date().isoformat()
            traits.append("customer")
        contacts.append([*contact, customer])
        consents.extend(history)
        counts.update(traits)
    counts["twins"] = _twins(contacts, random.Random(seed + 2))  # own stream, as sales
    counts["contacts"] = n
    counts["consent_rows"] = len(consents)
    bad_consents = generator.bad_consents(contacts[0][0], contacts[1][0])
    _insert_bad_rows(contacts, generator.bad_contacts(), spread=n)
    _insert_bad_rows(consents, bad_consents, spread=len(consents))
    counts["bad_contact_rows"] = BAD_CONTACT_ROWS
    counts["bad_consent_rows"] = BAD_CONSENT_ROWS
    dir.mkdir(parents=True, exist_ok=True)
    contacts_csv, consents_csv = dir / "contacts.csv", dir / "consents.csv"
    _write_csv(contacts_csv, (*CONTACT_COLUMNS, "customer_since"), contacts)
    _write_csv(consents_csv, (*CONSENT_COLUMNS, *CONSENT_OPTIONAL_COLUMNS), consents)
    full = {
        key: 0 for key in ("italian", "english", "no_email", "no_phone", "customer", *CATEGORIES)
    }
    return SampleFiles(contacts_csv, consents_csv, {**full, **counts})


class _Generator:
    def __init__(self, rng: random.Random, now: datetime) -> None:
        self.rng = rng
        self.now = now
        self.emails: set[str] = set()
        self.phones: set[str] = set()
        self.evidence_seq = 0

    def person(self, index: int) -> tuple[list[str], list[list[str]], list[str]]:
        rng = self.rng
        italian = rng.random() < 0.7
        given = rng.choice(_IT_GIVEN if italian else _EN_GIVEN)
        family = rng.choice(_IT_FAMILY if italian else _EN_FAMILY)
        external_id = f"CRM-{index + 1:06d}"
        has_email, has_phone = rng.random() < 0.9, rng.random() < 0.85
        if not (has_email or has_phone):
            has_email = True
        email = self.email(given, family, italian) if has_email else ""
        phone = self.phone(italian) if has_phone else ""
        locale = rng.choice(("it", "it", "it-IT") if italian else ("en", "en", "en-GB"))
        timezone = "Europe/Rome" if italian else "Europe/London"
        category = rng.choices(list(CATEGORIES), weights=list(CATEGORIES.values()))[0]
        channels = (["email"] if email else []) + (["sms"] if phone else [])
        if phone and rng.random() < 0.6:
            channels.append("ivr")
        history: list[list[str]] = []
        if category != "missing":
            for channel in channels:
                history.extend(self.history(external_id, PURPOSE_BY_ADDRESS[channel], category))
        traits = ["italian" if italian else "english", category]
        traits += [] if email else ["no_email"]
        traits += [] if phone else ["no_phone"]
        contact = [external_id, given, family, email, phone, locale, timezone]
        return contact, history, traits

    def email(self, given: str, family: str, italian: bool) -> str:
        domains = (
            ("example.it", "example.it", "example.com")
            if italian
            else ("example.org", "example.com")
        )
        base = f"{_slug(given)}.{_slug(family)}"
        domain = self.rng.choice(domains)
        candidate, number = f"{base}@{domain}", 1
        while candidate in self.emails:
            number += 1
            candidate = f"{base}{number}@{domain}"
        self.emails.add(candidate)
        return candidate if self.rng.random() < 0.9 else candidate.title()  # CRMs keep odd cases

    def phone(self, italian: bool) -> str:
        """A valid, unused mobile number, written the way CRMs write them."""
        rng = self.rng
        while True:
            if italian:
                national = rng.choice(_IT_MOBILE_PREFIXES) + f"{rng.randrange(10**7):07d}"
                e164 = "+39" + national
            else:
                national = "7" + f"{rng.randrange(4000, 10000):04d}" + f"{rng.randrange(10**5):05d}"
                e164 = "+44" + national
            parsed = phonenumbers.parse(e164)
            if e164 in self.phones or not phonenumbers.is_valid_number(parsed):
                continue
            if phonenumbers.number_type(parsed) != phonenumbers.PhoneNumberType.MOBILE:
                continue
            if phonenumbers.region_code_for_number(parsed) != ("IT" if italian else "GB"):
                continue
            self.phones.add(e164)
            style = rng.random()
            if style < 0.4:
                return e164
            if style < 0.7:
                return phonenumbers.format_number(
                    parsed, phonenumbers.PhoneNumberFormat.INTERNATIONAL
                )
            return str(phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.NATIONAL))

    def history(self, external_id: str, purpose: str, category: str) -> list[list[str]]:
        rng = self.rng
        row = self._row
        if category == "fresh":
            return [row(external_id, purpose, "given", self._ago(5, 90), "2026-09", evidence=True)]
        if category == "stale":
            version = "2024-01" if rng.random() < 0.8 else "2026-09"
            return [row(external_id, purpose, "given", self._ago(730, 1460), version)]
        if category == "old_notice":
            return [row(external_id, purpose, "given", self._ago(30, 300), "2024-01")]
        if category == "refused":
            rows = []
            if rng.random() < 0.5:
                rows.append(row(external_id, purpose, "given", self._ago(700, 1000), "2024-01"))
            rows.append(row(external_id, purpose, "refused", self._ago(10, 300), "2024-01"))
            return rows
        given = row(external_id, purpose, "given", self._ago(400, 1000), "2024-01")
        return [given, row(external_id, purpose, "withdrawn", self._ago(5, 300), "2024-01")]

    @staticmethod
    def _version_at(captured: datetime, preferred: str) -> str:
        """``preferred`` if it had taken effect at ``captured``, else the latest that had
        (empty: none had)."""
        in_effect = [version for version, since in NOTICES if since <= captured]
        return preferred if preferred in in_effect else next(iter(in_effect), "")

    def _row(
        self,
        external_id: str,
        purpose: str,
        state: str,
        captured: datetime,
        version: str,
        *,
        evidence: bool | None = None,
    ) -> list[str]:
        rng = self.rng
        if evidence is None:
            evidence = rng.random() < 0.5
        evidence_ref = ""
        if evidence:
            self.evidence_seq += 1
            evidence_ref = rng.choice(
                (
                    f"webform-{self.evidence_seq:07d}",
                    f"https://docs.example.com/consents/{self.evidence_seq:07d}.pdf",
                )
            )
        style = rng.random()  # CRMs export dates in several ISO 8601 shapes
        if style < 0.6:
            when = captured.isoformat().replace("+00:00", "Z")
        elif style < 0.8:
            when = captured.replace(tzinfo=None).isoformat(sep=" ")  # naive: read as UTC
        else:
            when = captured.date().isoformat()
        channel = rng.choice(("", "email", "sms")) if state == "given" else ""
        return [
            external_id,
            purpose,
            state,
            when,
            self._version_at(captured, version),
            channel,
            rng.choice(SOURCES),
            evidence_ref,
        ]

    def _ago(self, low_days: int, high_days: int) -> datetime:
        return self.now - timedelta(
            days=self.rng.randint(low_days, high_days), seconds=self.rng.randrange(86400)
        )

    def bad_contacts(self) -> list[list[str]]:
        return [
            ["CRM-BAD-1", "Mario", "Verdi", "mario.verdi@@example.it", "", "it", "Europe/Rome", ""],
            ["CRM-BAD-2", "Anna", "Neri", "anna.neri@example.it", "", "it", "Europe/Atlantis", ""],
            ["", "Paul", "Hughes", "paul.hughes@example.org", "", "en", "Europe/London", ""],
        ]

    def bad_consents(self, first: str, second: str) -> list[list[str]]:
        when = self._ago(30, 60).date().isoformat()
        return [
            [first, "marketing_fax", "given", when, "2026-09", "", "legacy-crm", ""],
            [second, "marketing_email", "maybe", when, "2026-09", "", "legacy-crm", ""],
        ]


def _twins(contacts: list[list[str]], rng: random.Random) -> int:
    """Make about :data:`TWIN_SHARE` of ``contacts`` (rows: external_id, given, family,
    email, phone, locale, ...) the same person as the contact before them of their
    language: that person's name and e-mail (else phone), as a second CRM would hold
    them. Rows keep their own id, history and traits; how many became twins."""
    made = 0
    for index in range(1, len(contacts)):
        if rng.random() >= TWIN_SHARE:
            continue
        row = contacts[index]
        earlier = next(
            (c for c in reversed(contacts[max(0, index - 5) : index]) if c[5][:2] == row[5][:2]),
            None,
        )
        if earlier is None:
            continue
        field = 3 if row[3] and earlier[3] else 4 if row[4] and earlier[4] else None
        if field is None:
            continue
        row[1], row[2], row[field] = earlier[1], earlier[2], earlier[field]
        made += 1
    return made


def _insert_bad_rows(rows: list[list[str]], bad: Sequence[list[str]], spread: int) -> None:
    """Spread the bad rows through the file, at fixed fractions of it."""
    for position, row in enumerate(bad, start=1):
        rows.insert(position * spread // (len(bad) + 1) + position - 1, row)


def _slug(name: str) -> str:
    ascii_name = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode()
    return "".join(ch for ch in ascii_name.lower() if ch.isalnum())


def _write_csv(path: Path, header: Sequence[str], rows: list[list[str]]) -> None:
    with path.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(header)
        writer.writerows(rows)


def write_rpo_answer(contacts_csv: Path, dir: Path, now: datetime, share: float = 0.05) -> Path:
    """An answer of the RPO for the sample base: about ``share`` of the Italian numbers
    registered, a year ago (so the call consents given before are revoked)."""
    rng = random.Random(13)
    rows: list[list[str]] = []
    with contacts_csv.open(encoding="utf-8", newline="") as handle:
        for row in csv.DictReader(handle):
            phone = row.get("phone", "")
            if phone and row.get("locale", "").startswith("it") and rng.random() < share:
                when = (now - timedelta(days=rng.randint(200, 500))).date().isoformat()
                rows.append([phone, when])
    path = dir / "rpo.csv"
    _write_csv(path, ("phone", "registered_at"), rows)
    return path
