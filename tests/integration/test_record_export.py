"""The record of processing and the DPIA generated from the catalog in the database:
every purpose, processor and retention rule of the example catalog is in it, and
loading a changed catalog changes it. Processors are catalog rows, validated on load."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from sqlalchemy import Engine, select

from models import Processor
from reconsent.campaigns.catalog_file import CatalogReport, load_catalog
from reconsent.campaigns.waves import create_wave
from reconsent.db import unit_of_work
from reconsent.kernel.clock import FixedClock
from reconsent.kernel.errors import ConfigError
from reconsent.kernel.rules.transfers import TransferMechanism
from reconsent.kernel.waveconfig import load_wave_config
from reconsent.records.catalog_rows import read_snapshot
from reconsent.records.dpia import build_dpia
from reconsent.records.product_facts import product_facts
from reconsent.records.record_inputs import CatalogSnapshot
from reconsent.records.record_of_processing import Record, build_record
from reconsent.records.record_render import render_record
from reconsent.records.record_texts import retention_rule
from reconsent.settings import Settings
from tests.support import factories
from tests.support.readme_blocks import readme_block

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
PROVIDERS = {"email": "sendgrid", "sms": "twilio", "ivr": "twilio"}


@pytest.fixture
def catalog(tmp_path: Path) -> Path:
    """A copy of the example catalog that a test may edit."""
    target = tmp_path / "catalog"
    shutil.copytree(EXAMPLES, target)
    return target / "catalog.toml"


def _load(engine: Engine, path: Path, settings: Settings, clock: FixedClock) -> CatalogReport:
    with unit_of_work(engine) as session:
        return load_catalog(session, path, settings, clock.now())


def _snapshot(engine: Engine) -> CatalogSnapshot:
    with unit_of_work(engine) as session:
        return read_snapshot(session)


def _record(engine: Engine, settings: Settings, clock: FixedClock, locale: str = "en") -> Record:
    facts = product_facts(settings, PROVIDERS, clock.now())
    return build_record(_snapshot(engine), facts, locale)


def _edit(path: Path, old: str, new: str) -> None:
    content = path.read_text(encoding="utf-8")
    assert old in content
    path.write_text(content.replace(old, new), encoding="utf-8")


def test_the_record_names_every_purpose_processor_and_retention_rule_of_the_catalog(
    engine: Engine, settings: Settings, clock: FixedClock
) -> None:
    _load(engine, EXAMPLES / "catalog.toml", settings, clock)

    for locale in ("it", "en"):
        record = _record(engine, settings, clock, locale)
        markdown = render_record(record, "md")
        for code in ("marketing_email", "marketing_sms", "marketing_phone", "profiling"):
            assert f"(`{code}`)" in markdown
        assert "(`third_party_sharing`)" in markdown
        for name in ("Twilio Inc. (SendGrid)", "Twilio Inc.", "Example Cloud S.p.A."):
            assert f"### {name} (" in markdown
        for purpose in record.purposes:
            assert purpose.retention is not None
            assert f"`{purpose.code}`: {retention_rule(purpose.retention, locale)}" in markdown
        html = render_record(record, "html")
        assert html.count('<article id="purpose-') == 5
        assert html.count('<article id="processor-') == 3

    record = _record(engine, settings, clock)
    email = next(p for p in record.purposes if p.code == "marketing_email")
    assert email.processors == ("Twilio Inc. (SendGrid)", "Example Cloud S.p.A.")
    assert email.data_subjects == ("customers", "prospective customers")
    assert email.retention == {"refused": 0, "withdrawn": 0, "expired": 6}
    assert {t.processor: t.mechanism for t in record.transfers} == {
        "Twilio Inc. (SendGrid)": "eu_us_dpf",
        "Twilio Inc.": "eu_us_dpf",
    }
    twilio = next(p for p in record.processors if p.code == "twilio")
    assert twilio.purposes == ("marketing_sms", "marketing_phone") and twilio.in_use
    data = json.loads(render_record(record, "json"))
    assert [p["code"] for p in data["processors"]] == ["sendgrid", "twilio", "hosting"]
    assert data["processors"][0]["dpa_date"] == "2026-01-15"


def test_loading_a_changed_catalog_changes_the_record(
    engine: Engine, settings: Settings, clock: FixedClock, catalog: Path
) -> None:
    _load(engine, catalog, settings, clock)
    before = render_record(_record(engine, settings, clock), "json")
    # The hosting provider leaves; profiling gets an analytics processor in Canada under
    # SCCs; the e-mail purpose keeps data 3 months after the expiry, and names its subjects.
    _edit(catalog, ', "hosting"]', "]")
    _edit(catalog, 'processors = ["hosting"]', "processors = []")
    start = catalog.read_text().index('[[processors]]\ncode = "hosting"')
    end = catalog.read_text().index("# ----", start)
    _edit(
        catalog,
        catalog.read_text()[start:end],
        '[[processors]]\ncode = "acme"\nname = "Acme Analytics Inc."\nservice = "analytics"\n'
        'country = "CA"\ndpa_reference = "ACME-7"\ntransfer_mechanism = "sccs"\n\n',
    )
    _edit(catalog, 'data_categories = ["purchase history"', 'processors = ["acme"]\n' + (
        'data_categories = ["purchase history"'
    ))  # fmt: skip
    _edit(
        catalog,
        'processors = []\ndata_subjects = ["customers"]\n',
        'data_subjects = ["customers"]\n',
    )
    _edit(
        catalog,
        "retention = { refused = 0, withdrawn = 0, expired = 6 }\n"
        'processors = ["sendgrid"]\ndata_subjects = ["customers", "prospective customers"]',
        "retention = { refused = 0, withdrawn = 0, expired = 3 }\n"
        'processors = ["sendgrid"]\ndata_subjects = ["customers", "newsletter readers"]',
    )

    report = _load(engine, catalog, settings, clock)

    assert report.processors_created == ["acme"] and report.processors_removed == ["hosting"]
    assert report.processors_unchanged == ["sendgrid", "twilio"]
    after = _record(engine, settings, clock)
    assert render_record(after, "json") != before
    assert [p.code for p in after.processors] == ["sendgrid", "twilio", "acme"]
    profiling = next(p for p in after.purposes if p.code == "profiling")
    assert profiling.processors == ("Acme Analytics Inc.",)
    email = next(p for p in after.purposes if p.code == "marketing_email")
    assert email.retention == {"refused": 0, "withdrawn": 0, "expired": 3}
    assert email.data_subjects == ("customers", "newsletter readers")
    assert ("Acme Analytics Inc.", "CA", "sccs") in {
        (t.processor, t.country, t.mechanism) for t in after.transfers
    }
    markdown = render_record(after, "md")
    assert "Example Cloud" not in markdown and "### Acme Analytics Inc. (`acme`)" in markdown
    assert not _load(engine, catalog, settings, clock).changed  # idempotent


def test_a_processor_a_stored_purpose_still_names_cannot_be_removed(
    engine: Engine, settings: Settings, clock: FixedClock, tmp_path: Path
) -> None:
    _load(engine, EXAMPLES / "catalog.toml", settings, clock)
    # A file with the processors but hosting, and no purposes: the stored ones name hosting.
    content = (EXAMPLES / "catalog.toml").read_text(encoding="utf-8")
    partial = tmp_path / "processors.toml"
    partial.write_text(content[: content.index('[[processors]]\ncode = "hosting"')])

    with pytest.raises(ConfigError, match=r"processor hosting is no longer in the catalog but"):
        _load(engine, partial, settings, clock)

    with unit_of_work(engine) as session:
        assert len(session.scalars(select(Processor)).all()) == 3  # nothing written


@pytest.mark.parametrize(
    ("old", "new", "message"),
    [
        ('processors = ["hosting"]\ndata_subjects = ["customers"]',
         'processors = ["nobody"]\ndata_subjects = ["customers"]',
         "purpose profiling names unknown processor(s): ['nobody']"),
        ('transfer_mechanism = "none"', 'transfer_mechanism = "sccs"',
         "processors[2] (hosting): Value error, transfer_mechanism: IT is in the EEA"),
        ('country = "IT"', 'country = "JP"',
         "processors[2] (hosting): Value error, transfer_mechanism: JP is outside the EEA"),
        ('country = "US"', 'country = "GB"',
         "processors[0] (sendgrid): Value error, transfer_mechanism: the EU-US Data Privacy "
         "Framework covers only the United States"),
        ('adapter = "twilio"', 'adapter = "vonage"', "processors[1] (twilio).adapter"),
    ],
)  # fmt: skip
def test_invalid_processors_name_the_processor_and_the_field(
    engine: Engine, settings: Settings, clock: FixedClock, catalog: Path,
    old: str, new: str, message: str,
) -> None:  # fmt: skip
    content = catalog.read_text(encoding="utf-8")
    assert old in content
    catalog.write_text(content.replace(old, new, 1), encoding="utf-8")

    with pytest.raises(ConfigError, match=r"catalog\.toml: ") as caught:
        _load(engine, catalog, settings, clock)

    assert message in str(caught.value)
    with unit_of_work(engine) as session:
        assert session.scalars(select(Processor)).all() == []


def test_the_dpia_counts_people_and_sees_the_waves_channels(
    engine: Engine, settings: Settings, clock: FixedClock
) -> None:
    _load(engine, EXAMPLES / "catalog.toml", settings, clock)
    with unit_of_work(engine) as session:
        for n in range(3):
            factories.add_contact(session, clock.now(), f"c{n}")
        create_wave(session, load_wave_config(EXAMPLES / "wave.toml"), clock.now())
        stored = session.scalars(select(Processor).where(Processor.code == "sendgrid")).one()
        assert stored.transfer_mechanism is TransferMechanism.EU_US_DPF

    snapshot = _snapshot(engine)
    assert snapshot.contacts == 3 and snapshot.rules.waves == 1
    assert snapshot.rules.channels == ("email", "sms", "ivr")
    facts = product_facts(settings.model_copy(update={"dpia_large_scale_contacts": 3}), PROVIDERS,
                          clock.now())  # fmt: skip
    dpia = build_dpia(snapshot, facts, "en")
    met = {c.code for c in dpia.criteria if c.met}
    assert met == {"evaluation_scoring", "systematic_monitoring", "large_scale",
                   "innovative_technology"}  # fmt: skip
    assert dpia.likely_required
    assert all(c.used_by_waves for c in dpia.record.channels)


def test_the_cli_writes_the_record_and_the_dpia(cli_env: dict[str, str], tmp_path: Path) -> None:
    def run(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "reconsent.cli.main", *args],
            capture_output=True, text=True, env=cli_env, cwd=tmp_path, timeout=120, check=False,
        )  # fmt: skip

    empty = run("record", "export")
    assert empty.returncode == 2 and "the catalog is empty" in empty.stderr
    assert run("catalog", "load", str(EXAMPLES / "catalog.toml")).returncode == 0
    bad = run("record", "export", "--format", "pdf")
    assert bad.returncode == 2 and "--format 'pdf'" in bad.stderr

    out = tmp_path / "docs" / "record.json"
    written = run("record", "export", "--format", "json", "--locale", "en", "--out", str(out))
    assert written.returncode == 0, written.stderr
    assert json.loads(out.read_text())["controller"]["name"] == "Example Contact Centre S.r.l."
    html = run("dpia", "draft", "--format", "html", "--locale", "it")
    assert html.returncode == 0, html.stderr
    assert html.stdout.startswith("<!doctype html>") and "DA COMPLETARE" in html.stdout
    markdown = run("record", "export")
    assert markdown.stdout.startswith("# Registro delle attività di trattamento")


def test_the_readme_excerpt_is_what_the_example_catalog_generates(
    engine: Engine, settings: Settings, clock: FixedClock
) -> None:
    _load(engine, EXAMPLES / "catalog.toml", settings, clock)
    dpo = settings.model_copy(update={"dpo_name": "Maria Rossi", "dpo_contact": "dpo@example.com"})
    outbox = {"email": "outbox", "sms": "outbox", "ivr": "outbox"}
    record = build_record(_snapshot(engine), product_facts(dpo, outbox, clock.now()), "en")

    def timeless(text: str) -> str:  # the generation time aside
        return "\n".join(line for line in text.splitlines() if not line.startswith("Generated "))

    generated = timeless(render_record(record, "md"))
    parts = [p for p in readme_block("record-excerpt").split("[...]\n") if timeless(p).strip()]
    assert len(parts) >= 4
    for part in parts:
        assert timeless(part).strip() in generated
