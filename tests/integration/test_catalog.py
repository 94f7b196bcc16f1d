"""Loading the catalog: purposes upserted, notices rendered once and never changed."""

from __future__ import annotations

import hashlib
import shutil
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import Engine, select

from models import Notice, Purpose
from reconsent.campaigns.catalog_file import CatalogReport, load_catalog
from reconsent.campaigns.waves import create_wave
from reconsent.db import unit_of_work
from reconsent.kernel.clock import FixedClock
from reconsent.kernel.errors import ConfigError, ImmutableError
from reconsent.kernel.vocab import Channel, DeclaredBasis
from reconsent.kernel.waveconfig import load_wave_config
from reconsent.settings import Settings

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
PROCESSORS = ["sendgrid", "twilio", "hosting"]
ALL_NOTICES = ["2024-01/it", "2024-01/en", "2026-09/it", "2026-09/en"]
PURPOSES = [
    "marketing_email",
    "marketing_sms",
    "marketing_phone",
    "profiling",
    "third_party_sharing",
]


@pytest.fixture
def catalog_dir(tmp_path: Path) -> Path:
    """A copy of the example catalog that a test may edit."""
    target = tmp_path / "catalog"
    shutil.copytree(EXAMPLES, target)
    return target


def load(engine: Engine, path: Path, settings: Settings, clock: FixedClock) -> CatalogReport:
    with unit_of_work(engine) as session:
        return load_catalog(session, path, settings, clock.now())


def edit(path: Path, old: str, new: str) -> None:
    text = path.read_text(encoding="utf-8")
    assert old in text
    path.write_text(text.replace(old, new, 1), encoding="utf-8")


def test_example_catalog_loads_and_reloads_unchanged(
    engine: Engine, settings: Settings, clock: FixedClock
) -> None:
    report = load(engine, EXAMPLES / "catalog.toml", settings, clock)
    assert report.purposes_created == PURPOSES and report.notices_created == ALL_NOTICES
    assert report.processors_created == PROCESSORS
    assert report.changed
    with unit_of_work(engine) as session:
        purposes = {p.code: p for p in session.scalars(select(Purpose))}
        notices = {(n.version, n.locale): n for n in session.scalars(select(Notice))}
    assert purposes["marketing_phone"].channel is Channel.IVR
    assert purposes["profiling"].channel is None and purposes["profiling"].lifetime_months == 12
    assert purposes["marketing_sms"].titles["it"] == "Offerte e novità via SMS"
    current_it = notices["2026-09", "it"]
    assert current_it.digest == hashlib.sha256(current_it.body_html.encode()).hexdigest()
    assert current_it.published_at == clock.now()
    assert settings.controller_name in current_it.body_html
    assert "Garante per la protezione dei dati personali" in current_it.body_html
    assert "Information Commissioner" in notices["2026-09", "en"].body_html
    for code in PURPOSES:
        assert f'id="purpose-{code}"' in current_it.body_html
    old_en = notices["2024-01", "en"].body_html
    assert 'id="purpose-marketing_phone"' in old_en and "purpose-profiling" not in old_en
    assert notices["2024-01", "en"].title == "Marketing privacy notice (January 2024)"

    clock.advance(timedelta(days=1))
    again = load(engine, EXAMPLES / "catalog.toml", settings, clock)
    assert again == CatalogReport(
        purposes_unchanged=PURPOSES,
        processors_unchanged=PROCESSORS,
        notices_unchanged=ALL_NOTICES,
    )
    assert not again.changed


def test_changed_notice_content_is_refused_and_nothing_written(
    engine: Engine, settings: Settings, clock: FixedClock, catalog_dir: Path
) -> None:
    load(engine, catalog_dir / "catalog.toml", settings, clock)
    edit(catalog_dir / "notices" / "2026-09.en.html.j2", "We answer within one month.", "Soon.")
    edit(
        catalog_dir / "catalog.toml",
        "lifetime_months = 12                 #",
        "lifetime_months = 6 #",
    )
    with pytest.raises(
        ImmutableError, match=r"notice 2026-09 \(it\).*publish the change as a new version"
    ):
        load(engine, catalog_dir / "catalog.toml", settings, clock)
    with unit_of_work(engine) as session:
        phone = session.scalars(select(Purpose).where(Purpose.code == "marketing_phone")).one()
    assert phone.lifetime_months == 12  # the purpose update was not written either


def test_purpose_change_changes_the_notices_that_list_it(
    engine: Engine, settings: Settings, clock: FixedClock, catalog_dir: Path
) -> None:
    """A description is part of the notices listing the purpose: the old entries must go."""
    load(engine, catalog_dir / "catalog.toml", settings, clock)
    catalog = catalog_dir / "catalog.toml"
    edit(catalog, "negli orari consentiti", "solo negli orari consentiti")
    with pytest.raises(ImmutableError, match="2024-01"):
        load(engine, catalog, settings, clock)
    text = catalog.read_text(encoding="utf-8")
    head = text[: text.index("[[notices]]")]
    catalog.write_text(
        head + '[[notices]]\nversion = "2026-10"\n'
        'title = { it = "Informativa", en = "Notice" }\n'
        'templates = { it = "notices/2026-09.it.html.j2", en = "notices/2026-09.en.html.j2" }\n',
        encoding="utf-8",
    )
    report = load(engine, catalog, settings, clock)
    assert report.purposes_updated == ["marketing_phone"]
    assert report.notices_created == ["2026-10/it", "2026-10/en"] and not report.notices_unchanged
    with unit_of_work(engine) as session:
        versions = sorted(session.scalars(select(Notice.version).distinct()))
        new_it = session.scalars(
            select(Notice.body_html).where(Notice.version == "2026-10", Notice.locale == "it")
        ).one()
    assert versions == ["2024-01", "2026-09", "2026-10"]  # published notices stay
    assert "solo negli orari consentiti" in new_it


def test_changed_notice_title_is_refused(
    engine: Engine, settings: Settings, clock: FixedClock, catalog_dir: Path
) -> None:
    load(engine, catalog_dir / "catalog.toml", settings, clock)
    edit(catalog_dir / "catalog.toml", "(January 2024)", "(Jan 2024)")
    with pytest.raises(ImmutableError, match="its title would change"):
        load(engine, catalog_dir / "catalog.toml", settings, clock)


def test_templates_are_autoescaped(
    engine: Engine, settings: Settings, clock: FixedClock, catalog_dir: Path
) -> None:
    odd = settings.model_copy(update={"controller_name": "<b>Rossi & Figli</b>"})
    load(engine, catalog_dir / "catalog.toml", odd, clock)
    with unit_of_work(engine) as session:
        body = session.scalars(select(Notice.body_html).where(Notice.locale == "it")).first()
    assert body is not None
    assert "&lt;b&gt;Rossi &amp; Figli&lt;/b&gt;" in body and "<b>Rossi" not in body


@pytest.mark.parametrize(
    ("old", "new", "message"),
    [
        (
            "lifetime_months = 24",
            "lifetime_months = 0",
            r"purposes\[0\] \(marketing_email\)\.lifetime_months: Input should be greater",
        ),
        (
            'channel = "sms"',
            'channel = "fax"',
            r"purposes\[1\] \(marketing_sms\)\.channel: Input should be 'email', 'sms' or 'ivr'",
        ),
        (
            'code = "profiling"',
            'code = "profiling"\ncolour = "red"',
            r"purposes\[3\] \(profiling\)\.colour: Extra inputs are not permitted",
        ),
        ('code = "marketing_sms"', 'code = "marketing_email"', "repeated purpose code"),
        (
            '"marketing_phone"]\n',
            '"marketing_phone", "marketing_fax"]\n',
            r"notice 2024-01 lists unknown purpose\(s\): \['marketing_fax'\]",
        ),
        (
            'en = "Offers by phone call"',
            'de = "Anrufe"',
            "purpose marketing_phone needs a title and a description in 'en'",
        ),
        (
            'version = "2024-01"',
            'version = "2024/01"',
            r"notices\[0\]\.version: String should match pattern",
        ),
        (
            "notices/2024-01.it.html.j2",
            "notices/missing.html.j2",
            r"notices\[0\]\.templates\.it: template 'notices/missing\.html\.j2' not found",
        ),
        ("[[purposes]]", "[[purposes]\n", "not valid TOML"),
    ],
)
def test_invalid_catalog_names_file_and_field(
    engine: Engine,
    settings: Settings,
    clock: FixedClock,
    catalog_dir: Path,
    old: str,
    new: str,
    message: str,
) -> None:
    edit(catalog_dir / "catalog.toml", old, new)
    with pytest.raises(ConfigError, match=message) as info:
        load(engine, catalog_dir / "catalog.toml", settings, clock)
    assert str(info.value).startswith(str(catalog_dir / "catalog.toml"))
    with unit_of_work(engine) as session:
        assert session.scalars(select(Purpose)).first() is None


@pytest.mark.parametrize(
    ("snippet", "message"),
    [
        ("{{ dpo_contact }}", "'dpo_contact' is undefined"),
        ("{{ version.__class__.__mro__ }}", "__class__"),
        ("{{ version | }}", "2026-09.en.html.j2 line 1: expected token 'name'"),
    ],
)
def test_template_errors_are_config_errors(
    engine: Engine,
    settings: Settings,
    clock: FixedClock,
    catalog_dir: Path,
    snippet: str,
    message: str,
) -> None:
    template = catalog_dir / "notices" / "2026-09.en.html.j2"
    template.write_text(snippet + template.read_text(encoding="utf-8"), encoding="utf-8")
    with pytest.raises(ConfigError, match=r"notices\[1\]\.templates\.en") as info:
        load(engine, catalog_dir / "catalog.toml", settings, clock)
    assert message in str(info.value)


def test_purpose_channel_cannot_change(
    engine: Engine, settings: Settings, clock: FixedClock, catalog_dir: Path
) -> None:
    load(engine, catalog_dir / "catalog.toml", settings, clock)
    edit(catalog_dir / "catalog.toml", 'channel = "ivr"', 'channel = "sms"')
    with pytest.raises(ConfigError, match="purpose marketing_phone: its channel cannot change"):
        load(engine, catalog_dir / "catalog.toml", settings, clock)


def test_example_wave_is_valid_against_the_example_catalog(
    engine: Engine, settings: Settings, clock: FixedClock
) -> None:
    config = load_wave_config(EXAMPLES / "wave.toml")
    assert config.purposes == ["marketing_email", "marketing_sms", "marketing_phone"]
    assert config.channels == [Channel.EMAIL, Channel.SMS, Channel.IVR]
    assert [step.wait_delta for step in config.steps] == [
        timedelta(days=2),
        timedelta(days=1),
        timedelta(days=1),
    ]
    assert config.lawful_basis == {Channel.EMAIL: DeclaredBasis.SOFT_SPAM}
    assert config.lawful_basis_note  # why it holds, kept for the audit trail
    assert config.stale.stale_after_days == 365 and config.stale.old_notice_versions == ["2024-01"]
    assert config.link_lifetime_delta == timedelta(days=14) and not config.dry_run
    assert config.quiet_hours.ivr == "it-telemarketing"
    load(engine, EXAMPLES / "catalog.toml", settings, clock)
    with unit_of_work(engine) as session:
        wave = create_wave(session, config, clock.now())
    assert wave.notice_version == "2026-09"
