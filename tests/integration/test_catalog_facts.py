"""What each purpose of the catalog states about its data: loaded, updated like titles,
validated with errors that name the purpose and the field; the migration's defaults."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from alembic import command
from sqlalchemy import Engine, select, text

from models import Purpose, Retention
from reconsent.campaigns.catalog_file import CatalogReport, load_catalog
from reconsent.db import alembic_config, make_engine, unit_of_work, upgrade
from reconsent.kernel.clock import FixedClock
from reconsent.kernel.errors import ConfigError
from reconsent.settings import Settings
from tests.support.postgres import owner_url

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
SHARING = 'code = "third_party_sharing"\n'


@pytest.fixture
def catalog(tmp_path: Path) -> Path:
    """A copy of the example catalog that a test may edit."""
    target = tmp_path / "catalog"
    shutil.copytree(EXAMPLES, target)
    return target / "catalog.toml"


def _load(engine: Engine, path: Path, settings: Settings, clock: FixedClock) -> CatalogReport:
    with unit_of_work(engine) as session:
        return load_catalog(session, path, settings, clock.now())


def _purposes(engine: Engine) -> dict[str, Purpose]:
    with unit_of_work(engine) as session:
        return {p.code: p for p in session.scalars(select(Purpose))}


def _edit(path: Path, old: str, new: str) -> None:
    content = path.read_text(encoding="utf-8")
    assert old in content
    path.write_text(content.replace(old, new, 1), encoding="utf-8")


def test_the_example_catalog_states_each_purposes_data(
    engine: Engine, settings: Settings, clock: FixedClock
) -> None:
    _load(engine, EXAMPLES / "catalog.toml", settings, clock)

    purposes = _purposes(engine)
    sharing, email = purposes["third_party_sharing"], purposes["marketing_email"]
    assert sharing.third_party_sharing and not email.third_party_sharing
    assert sharing.recipients == [
        "Business partners in energy, telecoms and insurance (independent controllers)"
    ]
    assert email.recipients == ["SendGrid (processor: e-mail delivery)"]
    assert purposes["marketing_sms"].recipients == ["Twilio (processor: text messages)"]
    assert email.data_categories[0] == "contact details: e-mail address"
    assert email.retention_policy == Retention(refused=0, withdrawn=0, expired=6)
    assert not any(p.sensitive or p.children for p in purposes.values())
    assert all(p.retention_policy is not None for p in purposes.values())


def test_changed_facts_are_reported_updated_and_notices_stay_as_published(
    engine: Engine, settings: Settings, clock: FixedClock, catalog: Path
) -> None:
    _load(engine, catalog, settings, clock)
    retention = "retention = { refused = 0, withdrawn = 0, expired = 6 }"  # the first: e-mail's
    _edit(catalog, retention, retention.replace("6", "3"))
    _edit(
        catalog,
        'recipients = ["SendGrid (processor: e-mail delivery)"]',
        'recipients = ["SendGrid (processor: e-mail delivery)", "Acme Analytics (processor)"]',
    )
    _edit(catalog, SHARING, SHARING + "sensitive = true\nchildren = true\n")

    report = _load(engine, catalog, settings, clock)

    assert report.purposes_updated == ["marketing_email", "third_party_sharing"]
    assert report.notices_created == [] and len(report.notices_unchanged) == 4
    purposes = _purposes(engine)
    assert purposes["marketing_email"].recipients[-1] == "Acme Analytics (processor)"
    assert purposes["marketing_email"].retention == {"refused": 0, "withdrawn": 0, "expired": 3}
    assert purposes["third_party_sharing"].sensitive and purposes["third_party_sharing"].children
    assert not _load(engine, catalog, settings, clock).changed


def test_a_catalog_without_facts_loads_with_safe_defaults(
    engine: Engine, settings: Settings, clock: FixedClock, tmp_path: Path
) -> None:
    path = tmp_path / "bare.toml"
    path.write_text(
        '[[purposes]]\ncode = "newsletter"\nchannel = "email"\n'
        'titles = { en = "Newsletter" }\ndescriptions = { en = "Our news." }\n',
        encoding="utf-8",
    )

    _load(engine, path, settings, clock)

    bare = _purposes(engine)["newsletter"]
    assert (bare.third_party_sharing, bare.sensitive, bare.children) == (False, False, False)
    assert (bare.data_categories, bare.recipients, bare.retention) == ([], [], None)


@pytest.mark.parametrize(
    ("old", "new", "message"),
    [
        (
            'recipients = ["Business partners in energy, telecoms and insurance '
            '(independent controllers)"]\n',
            "",
            "purposes[4] (third_party_sharing): Value error, third_party_sharing = true "
            "needs the recipients it shares with",
        ),
        (
            "retention = { refused = 0, withdrawn = 0, expired = 6 }",  # the first: e-mail's
            "retention = { refused = 0, withdrawn = -1, expired = 6 }",
            "purposes[0] (marketing_email).retention.withdrawn: Input should be greater than or "
            "equal to 0",
        ),
        (
            "retention = { refused = 0, withdrawn = 0, expired = 0 }",  # the first: profiling's
            "retention = { refused = 0, withdrawn = 0, expire = 0 }",
            "purposes[3] (profiling).retention.expired: Field required",
        ),
        (
            'recipients = ["Twilio (processor: text messages)"]',
            'recipients = ["Twilio (processor: text messages)", '
            '"Twilio (processor: text messages)"]',
            "purposes[1] (marketing_sms): Value error, recipients: repeated "
            "'Twilio (processor: text messages)'",
        ),
        (
            'data_categories = ["purchase history", "interactions with our messages"]',
            'data_categories = ["purchase history", "  "]',
            "purposes[3] (profiling).data_categories[1]: String should match pattern",
        ),
        (
            "third_party_sharing = true",
            'third_party_sharing = "yes please"',
            "purposes[4] (third_party_sharing).third_party_sharing: Input should be a valid "
            "boolean",
        ),
    ],
)  # fmt: skip
def test_invalid_facts_name_the_purpose_and_the_field(
    engine: Engine, settings: Settings, clock: FixedClock, catalog: Path,
    old: str, new: str, message: str,
) -> None:  # fmt: skip
    _edit(catalog, old, new)

    with pytest.raises(ConfigError, match=r"catalog\.toml: ") as caught:
        _load(engine, catalog, settings, clock)

    assert message in str(caught.value)
    assert _purposes(engine) == {}  # nothing written


def test_the_migration_gives_existing_purposes_safe_defaults(db_url: str) -> None:
    owner = owner_url(db_url)  # migrations run as the schema's owner
    before = "c4f0a2b80001"
    command.downgrade(alembic_config(owner), before)
    engine = make_engine(owner)
    try:
        with engine.begin() as conn:
            conn.execute(
                text(
                    "INSERT INTO purposes (code, category, lawful_basis, lifetime_months, "
                    "titles, descriptions, created_at) VALUES ('old', 'marketing', 'consent', "
                    "24, '{}', '{}', '2026-01-01 00:00:00')"
                )
            )
        upgrade(owner)
        with unit_of_work(engine) as session:
            old = session.scalars(select(Purpose)).one()
            assert (old.third_party_sharing, old.sensitive, old.children) == (False, False, False)
            assert (old.data_categories, old.recipients, old.retention_policy) == ([], [], None)
    finally:
        engine.dispose()
