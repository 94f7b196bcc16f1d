"""The ranges a wave file must keep to, and names printed as written."""

from __future__ import annotations

import io
from typing import Any

import pytest
from rich.console import Console

from reconsent.cli.context import shown
from reconsent.kernel.errors import ConfigError
from reconsent.kernel.waveconfig import WaveConfig, parse_wave_config

pytestmark = pytest.mark.unit


def _wave(**changes: Any) -> dict[str, Any]:
    wave: dict[str, Any] = {
        "name": "Spring",
        "purposes": ["marketing_email"],
        "notice_version": "2026-09",
        "steps": [{"channel": "email", "wait": "2d"}],
    }
    return {**wave, **changes}


@pytest.mark.parametrize(
    ("changes", "problem"),
    [
        ({"link_lifetime": "0s"}, "link_lifetime: invalid duration '0s': must be longer than zero"),
        ({"link_lifetime": "59m"}, "link_lifetime: link_lifetime '59m' is out of range: from 1h"),
        ({"link_lifetime": "36500d"}, "'36500d' is out of range: from 1h to 90d"),
        ({"steps": [{"channel": "email", "wait": "30s"}]}, "steps.0.wait: wait '30s' is out"),
        ({"steps": [{"channel": "email", "wait": "31d"}]}, "from 1m to 30d"),
        ({"daily_cap": {"sms": 0}}, "daily_cap.sms"),
        ({"daily_cap": {"sms": 10_000_001}}, "daily_cap.sms"),
        ({"frequency_cap": {"max_requests": 11}}, "frequency_cap.max_requests"),
        ({"frequency_cap": {"days": 731}}, "frequency_cap.days"),
        ({"stale": {"stale_after_days": 0}}, "stale.stale_after_days"),
        ({"name": "red \x1b[31m alert"}, "name: must not contain control characters"),
        ({"name": "two\nlines"}, "name: must not contain control characters"),
    ],
)
def test_out_of_range_values_are_refused_with_the_field(
    changes: dict[str, Any], problem: str
) -> None:
    with pytest.raises(ConfigError) as refused:
        parse_wave_config(_wave(**changes))
    assert problem in str(refused.value)


def test_the_edges_of_every_range_are_accepted() -> None:
    wave = parse_wave_config(
        _wave(
            link_lifetime="1h",
            steps=[{"channel": "email", "wait": "1m"}, {"channel": "sms", "wait": "30d"}],
            daily_cap={"email": 1, "sms": 10_000_000},
            frequency_cap={"max_requests": 10, "days": 730},
        )
    )
    assert isinstance(wave, WaveConfig)
    assert parse_wave_config(_wave(link_lifetime="90d")).link_lifetime_delta.days == 90


@pytest.mark.parametrize(
    ("name", "printed"),
    [
        ("[red]Spring[/red]", "[red]Spring[/red]"),
        ("[bold]x", "[bold]x"),
        ("a\x1b[31mb", "a\\x1b[31mb"),
        ("Primavera è qui", "Primavera è qui"),
    ],
)
def test_a_name_with_markup_or_escapes_is_printed_as_written(name: str, printed: str) -> None:
    out = io.StringIO()
    Console(
        file=out, force_terminal=True, color_system="truecolor", width=200, highlight=False
    ).print(shown(name))
    assert out.getvalue() == printed + "\n"  # no style codes, no raw escape


def test_artifact_keys_name_the_wave_and_differ_per_database() -> None:
    from reconsent.campaigns.wave_artifacts import artifact_key

    one = artifact_key(1, "Autunno 2026: ré-consenso!", "sqlite:////srv/a.db", "report")
    other = artifact_key(1, "Autunno 2026: ré-consenso!", "postgresql://u:pw@db/b", "report")
    assert one.startswith("autunno-2026-re-consenso-w1-") and one.endswith("-report")
    assert one != other
    assert artifact_key(2, "\x1b[31m", "sqlite://", "steps").startswith("31m-w2-")
    assert all(c.islower() or c.isdigit() or c == "-" for c in one)
