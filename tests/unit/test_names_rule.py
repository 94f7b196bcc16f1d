"""Names as messages can carry them (issue 17: a CR LF in a given name)."""

from __future__ import annotations

import pytest

from reconsent.imports.rows import parse_contact_row
from reconsent.kernel.errors import InvalidRowError
from reconsent.kernel.rules.names import control_characters, display_name

pytestmark = pytest.mark.unit


def test_control_characters_are_named_never_shown() -> None:
    assert control_characters("Anna\r\nBcc: x") == ["U+000A", "U+000D"]
    assert control_characters("Zoë O'Brien-Łukasz") == []
    assert control_characters("a\u2028b\tc") == ["U+0009", "U+2028"]


@pytest.mark.parametrize(
    ("raw", "shown"),
    [
        ("Anna\r\nBcc: x@example.net", "Anna Bcc: x@example.net"),
        ("  Zoë \t Rossi ", "Zoë Rossi"),
        ("\r\n", None),
        (None, None),
        ("", None),
    ],
)
def test_display_name_folds_controls_into_one_space(raw: str | None, shown: str | None) -> None:
    assert display_name(raw) == shown


def test_import_refuses_a_line_break_in_a_name_without_echoing_it() -> None:
    row = {
        "external_id": "C1",
        "given_name": "Anna\r\nBcc: secret@example.net",
        "email": "anna@example.com",
        "locale": "it",
        "timezone": "Europe/Rome",
    }
    with pytest.raises(InvalidRowError) as info:
        parse_contact_row(row)
    assert str(info.value) == "given_name holds control characters (U+000A, U+000D)"
    with pytest.raises(InvalidRowError, match="external_id holds control characters"):
        parse_contact_row({**row, "given_name": "Anna", "external_id": "C\x001"})
