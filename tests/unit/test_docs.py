"""The README documents every setting and both set-up commands."""

from __future__ import annotations

from pathlib import Path

from reconsent.settings import Settings

README = (Path(__file__).resolve().parents[2] / "README.md").read_text()


def test_every_setting_is_in_the_configuration_table() -> None:
    missing = [n for n in Settings.model_fields if f"`RECONSENT_{n.upper()}`" not in README]
    assert missing == []


def test_the_two_commands_come_first() -> None:
    assert README.index("make demo") < README.index("## How it works")
    assert "make test" in README
