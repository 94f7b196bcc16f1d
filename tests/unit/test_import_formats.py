"""CRM files as they come: mapping, delimiter, encodings, line numbers, redaction.

Pure functions (and an in-memory byte stream): no database, no file system.
"""

from __future__ import annotations

import io
from pathlib import Path

import pytest

from reconsent.imports.mapping import (
    ColumnMapping,
    load_mapping,
    parse_column_option,
    resolve_header,
)
from reconsent.imports.redaction import redact, shown
from reconsent.imports.rows import CONTACT_COLUMNS, CONTACT_OPTIONAL_COLUMNS, parse_contact_row
from reconsent.imports.textfile import CHUNK, choose_encoding, decoded_lines, sniff_delimiter
from reconsent.kernel.errors import ConfigError, ImportStopped, InvalidRowError
from reconsent.kernel.rules.addresses import phone_timezone
from reconsent.kernel.vocab import Channel

FIELDS = (*CONTACT_COLUMNS, *CONTACT_OPTIONAL_COLUMNS)


# --- mapping ------------------------------------------------------------------------------


def test_column_option_reads_quoted_and_bare_headers() -> None:
    assert parse_column_option('external_id="Record ID"') == ("external_id", "Record ID")
    assert parse_column_option(" Email = E-mail address ") == ("email", "E-mail address")
    for bad in ("external_id", "=Record ID", 'external_id=""'):
        with pytest.raises(ConfigError, match="field="):
            parse_column_option(bad)


def test_command_line_wins_over_the_mapping_file(tmp_path: Path) -> None:
    path = tmp_path / "map.toml"
    path.write_text(
        'timezone_from_phone = true\n[columns]\nexternal_id = "Record ID"\n'
        'phone = ["Mobile", "Phone"]\n[defaults]\nlocale = "en"\ncontract_exempt = true\n'
    )
    mapping = load_mapping(path, ['external_id="Legacy ID"'], {"locale": "it", "timezone": None})
    assert mapping is not None
    assert mapping.columns == {"external_id": ("Legacy ID",), "phone": ("Mobile", "Phone")}
    assert mapping.defaults == {"locale": "it", "contract_exempt": "yes"}
    assert mapping.timezone_from_phone
    assert load_mapping(None, [], {"locale": None}) is None


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ('[columns]\nextrnal_id = "Record ID"\n', "unknown field(s) extrnal_id for a test"),
        ('[colums]\nexternal_id = "x"\n', "unknown key(s) colums"),
        ("[columns]\nemail = 3\n", "columns.email must be a header name"),
        ("[columns]\nemail = [\n", "not valid TOML"),
    ],
)
def test_a_bad_mapping_is_one_line(tmp_path: Path, text: str, message: str) -> None:
    path = tmp_path / "map.toml"
    path.write_text(text)
    with pytest.raises(ConfigError) as info:
        mapping = load_mapping(path)
        assert mapping is not None
        mapping.check(FIELDS, "a test")
    assert message in str(info.value) and "\n" not in str(info.value)


def test_header_resolution_maps_ignores_and_falls_back_to_our_names() -> None:
    mapping = ColumnMapping(
        {"external_id": ("Record ID",), "phone": ("Mobile Phone Number", "Phone Number")},
        {"locale": "it"},
    )
    header = [
        "\ufeffRecord ID", "first name", "Email", "Phone Number", "Mobile Phone Number",
        "Create Date", "timezone", "given_name", "Family_Name",
    ]  # fmt: skip
    layout = resolve_header(header, mapping, CONTACT_COLUMNS, CONTACT_OPTIONAL_COLUMNS)
    assert layout.ignored == ("first name", "Create Date")
    row = ["51", "Giulia", "g@example.it", "+39 06 1234 5678", "", "2024-03-04", "UTC", "G", ""]
    values = layout.values(row)
    assert values["external_id"] == "51" and values["given_name"] == "G"
    assert values["phone"] == "+39 06 1234 5678"  # the mobile is empty: the next column
    assert (values["locale"], values["email"]) == ("it", "g@example.it")
    assert values["family_name"] == "" and "customer_since" not in values  # absent column
    with pytest.raises(ConfigError, match=r"no column 'Record ID' \(mapped to external_id\)"):
        resolve_header(["ID", *CONTACT_COLUMNS[1:]], mapping, CONTACT_COLUMNS, ())
    with pytest.raises(ConfigError, match=r"missing field\(s\): given_name, family_name"):
        resolve_header(["Record ID", "email", "phone", "timezone"], mapping, CONTACT_COLUMNS, ())


# --- delimiter and encodings --------------------------------------------------------------


@pytest.mark.parametrize(
    ("sample", "expected"),
    [
        ("a,b,c\n1,2,3\n", ","),
        ("Nome;Cognome;Email\nNiccolò;D'Amico;n@example.it\n", ";"),
        ("a\tb\tc\n1\t2\t3\n", "\t"),
        ('a;b\n"1,5";"2,5"\n', ";"),  # decimal commas inside quotes
        ("single\n", ","),
        ("", ","),
    ],
)
def test_delimiter_is_sniffed_among_comma_semicolon_tab(sample: str, expected: str) -> None:
    assert sniff_delimiter(sample) == expected


def test_delimiter_can_be_forced_but_only_to_the_three() -> None:
    assert sniff_delimiter("a,b\n", "tab") == "\t"
    with pytest.raises(ConfigError, match="--delimiter"):
        sniff_delimiter("a|b\n", "|")


def test_encoding_defaults_to_utf8_or_utf16_by_its_bom() -> None:
    assert choose_encoding(b"a,b", None) == "utf-8-sig"
    assert choose_encoding("\ufeffa".encode("utf-16-le"), None) == "utf-16"
    assert choose_encoding(b"", "CP1252") == "cp1252"
    assert choose_encoding(b"", "utf8") == "utf-8-sig"
    with pytest.raises(ConfigError, match="unknown encoding 'klingon'"):
        choose_encoding(b"", "klingon")


def test_lines_keep_their_breaks_across_chunks() -> None:
    text = "h1,h2\r\n" + "x" * 70_000 + ",y\r\n" + "a,b\rc,d\n"
    lines = list(decoded_lines(io.BytesIO(text.encode()), "utf-8-sig", "f.csv"))
    assert lines == ["h1,h2\r\n", "x" * 70_000 + ",y\r\n", "a,b\r", "c,d\n"]
    straddling = "a" * (CHUNK - 1) + "\r\nb\n"  # the chunk ends between \r and \n
    lines = list(decoded_lines(io.BytesIO(straddling.encode()), "utf-8-sig", "f.csv"))
    assert lines == ["a" * (CHUNK - 1) + "\r\n", "b\n"]


@pytest.mark.parametrize("encoding", ["utf-8-sig", "utf-16"])
def test_an_undecodable_byte_names_its_line_after_the_lines_before(encoding: str) -> None:
    good = "".join(f"row {i},Niccolò\n" for i in range(1, 5001))  # > one 64 KiB chunk
    data = good.encode("utf-16" if encoding == "utf-16" else "utf-8")
    bad = (
        b"\xff\xfe\xff"
        if encoding == "utf-8-sig"
        else "\ud800".encode("utf-16-le", "surrogatepass")
    )
    raw = io.BytesIO(data + b"Giulia" + bad + b"\n" + b"more\n")
    seen: list[str] = []
    with pytest.raises(ImportStopped) as info:
        seen.extend(decoded_lines(raw, encoding, "f.csv"))
    assert info.value.line == 5001 and len(seen) == 5000
    assert "line 5001 is not valid" in str(info.value) and "Giulia" not in str(info.value)


# --- personal data never in a reason ------------------------------------------------------


def test_only_code_like_values_are_quoted() -> None:
    assert shown("de-DE") == "'de-DE'" and shown("2027-01-01") == "'2027-01-01'"
    for value in ("giulia@example.it", "+39 333 123 4567", "3331234567", "x" * 41):
        assert shown(value) == "(value not shown)"
    assert redact("invalid state 'giulia' for Giulia", ["Giulia"]) == "invalid state '...' for ..."


def test_a_mapping_mistake_never_puts_the_email_in_a_reason() -> None:
    row = {
        "external_id": "A1", "given_name": "Giulia", "family_name": "Rossi",
        "email": "", "phone": "", "locale": "giulia.rossi@example.it", "timezone": "Rossi",
    }  # fmt: skip
    with pytest.raises(InvalidRowError) as info:
        parse_contact_row(row)
    assert "locale" in str(info.value) and "giulia" not in str(info.value)


# --- time zone from the phone -------------------------------------------------------------


@pytest.mark.parametrize(
    ("phone", "zone"),
    [
        ("+393331234567", "Europe/Rome"),  # Rome and Vatican: one clock
        ("+390612345678", "Europe/Rome"),
        ("+447400123456", "Europe/London"),  # London, Jersey, Guernsey, Man: one clock
        ("+12125551234", "America/New_York"),
        ("+34612345678", None),  # Madrid and the Canaries: two clocks
        ("+79161234567", None),
        ("+15555555555", None),  # a prefix phonenumbers cannot place
    ],
)
def test_phone_timezone_only_when_one_clock(phone: str, zone: str | None) -> None:
    assert phone_timezone(phone) == zone


def test_contact_timezone_from_phone_then_default_then_refused() -> None:
    row = {
        "external_id": "A1", "given_name": "", "family_name": "", "email": "",
        "phone": "+39 333 123 4567", "locale": "it", "timezone": "",
        "email_opt_out": "true", "call_opt_out": "0",
    }  # fmt: skip
    parsed = parse_contact_row(row, default_timezone="America/New_York", timezone_from_phone=True)
    assert parsed.timezone == "Europe/Rome" and parsed.opt_outs == (Channel.EMAIL,)
    assert parse_contact_row(row, default_timezone="America/New_York").timezone == (
        "America/New_York"
    )
    russian = {**row, "phone": "+7 916 123 4567"}
    with pytest.raises(InvalidRowError, match="more than one time zone"):
        parse_contact_row(russian, timezone_from_phone=True)
    assert parse_contact_row(
        russian, default_timezone="UTC", timezone_from_phone=True
    ).timezone == ("UTC")
