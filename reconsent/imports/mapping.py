"""Column mapping: which column of a CRM's file feeds which of our fields.

A mapping file (``--map mapping.toml``) has two tables::

    [columns]                 # our field = the file's header name (or a list of them)
    external_id = "Record ID"
    phone = ["Mobile Phone Number", "Phone Number"]   # the first non-empty cell wins

    [defaults]                # a constant for a field the file leaves out or empty
    locale = "it"

and, for contacts, ``timezone_from_phone = true`` (before the tables): an empty
timezone is taken from the phone number's area when it keeps one clock.

``--column field="Header"`` on the command line (repeatable) replaces the file's
entry for that field.  Header names match whatever their letter case and
surrounding spaces.  A field nobody maps is read from a column of its own name,
if there is one, so a mapping only names what differs from our layout.
"""

from __future__ import annotations

import tomllib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path

from reconsent.kernel.errors import ConfigError

__all__ = ["ColumnMapping", "Layout", "load_mapping", "parse_column_option", "resolve_header"]


@dataclass(frozen=True)
class ColumnMapping:
    """Our field -> the file's header names; our field -> a constant default.

    ``columns`` empty means the file is in our own layout (then a column we do not
    know is an error, as a misspelt name would otherwise drop a field silently)."""

    columns: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    defaults: Mapping[str, str] = field(default_factory=dict)
    #: Contacts: an empty timezone is taken from the phone number's area (one clock).
    timezone_from_phone: bool = False

    def check(self, fields: Sequence[str], what: str) -> None:
        """``ConfigError`` naming any field that is not one of ``fields``."""
        unknown = sorted((set(self.columns) | set(self.defaults)) - set(fields))
        if unknown:
            raise ConfigError(
                f"mapping: unknown field(s) {', '.join(unknown)} for {what} "
                f"(fields: {', '.join(fields)})"
            )


def parse_column_option(text: str) -> tuple[str, str]:
    """``external_id="Record ID"`` (or ``external_id=Record ID``) -> the pair."""
    target, sep, header = text.partition("=")
    target, header = target.strip().lower(), header.strip()
    if len(header) >= 2 and header[0] == header[-1] and header[0] in "\"'":
        header = header[1:-1].strip()
    if not sep or not target or not header:
        raise ConfigError(f'--column {text!r}: write it as field="Header name"')
    return target, header


def load_mapping(
    path: Path | None,
    columns: Sequence[str] = (),
    defaults: Mapping[str, str | None] | None = None,
    *,
    timezone_from_phone: bool = False,
) -> ColumnMapping | None:
    """The mapping file (if any), overridden by ``--column`` options and the command
    line's defaults (``None`` values are left out).  ``None`` when nothing is mapped."""
    mapped: dict[str, tuple[str, ...]] = {}
    constants: dict[str, str] = {}
    if path is not None:
        mapped, constants, from_file = _read_file(path)
        timezone_from_phone = timezone_from_phone or from_file
    given: dict[str, tuple[str, ...]] = {}
    for option in columns:
        target, header = parse_column_option(option)
        given[target] = (*given.get(target, ()), header)
    mapped.update(given)
    constants.update({k: v for k, v in (defaults or {}).items() if v is not None})
    if not mapped and not constants and not timezone_from_phone:
        return None
    return ColumnMapping(mapped, constants, timezone_from_phone)


def _read_file(path: Path) -> tuple[dict[str, tuple[str, ...]], dict[str, str], bool]:
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read: {exc.strerror or exc}") from None
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{path}: not valid TOML: {exc}") from None
    extra = sorted(set(data) - {"columns", "defaults", "timezone_from_phone"})
    if extra:
        raise ConfigError(
            f"{path}: unknown key(s) {', '.join(extra)} "
            "(use [columns], [defaults] and timezone_from_phone)"
        )
    from_phone = data.get("timezone_from_phone", False)
    if not isinstance(from_phone, bool):
        raise ConfigError(f"{path}: timezone_from_phone must be true or false")
    columns: dict[str, tuple[str, ...]] = {}
    for target, value in _table(data, "columns", path).items():
        names = [value] if isinstance(value, str) else value
        if (
            not isinstance(names, list)
            or not names
            or not all(isinstance(n, str) and n.strip() for n in names)
        ):
            raise ConfigError(f"{path}: columns.{target} must be a header name or a list of them")
        columns[target.lower()] = tuple(n.strip() for n in names)
    defaults: dict[str, str] = {}
    for target, value in _table(data, "defaults", path).items():
        if isinstance(value, bool):
            value = "yes" if value else "no"
        if not isinstance(value, str | int):
            raise ConfigError(f"{path}: defaults.{target} must be a text, a number or a boolean")
        defaults[target.lower()] = str(value)
    return columns, defaults, from_phone


def _table(data: dict[str, object], name: str, path: Path) -> dict[str, object]:
    table = data.get(name, {})
    if not isinstance(table, dict):
        raise ConfigError(f"{path}: [{name}] must be a table")
    return table


@dataclass(frozen=True)
class Layout:
    """Where each field is in the file's rows: the columns to read, first non-empty
    first; ``ignored`` lists the header names nothing reads (names only)."""

    picks: Mapping[str, tuple[int, ...]]
    defaults: Mapping[str, str]
    ignored: tuple[str, ...] = ()
    width: int = 0

    def values(self, row: Sequence[str], deferred: frozenset[str] = frozenset()) -> dict[str, str]:
        """A row as {field: text}: a field the file has comes even when empty (a file
        with a column states its value); a default fills an empty or absent field,
        except the ``deferred`` ones, whose parser applies its default itself."""
        out = {target: row[i] for target, i in self._singles}
        for target, indexes in self._alternatives:
            out[target] = next((row[i] for i in indexes if row[i].strip()), "")
        for target, value in self.defaults.items():
            if target not in deferred and not out.get(target, "").strip():
                out[target] = value
        return out

    @cached_property
    def _singles(self) -> tuple[tuple[str, int], ...]:
        return tuple((t, ix[0]) for t, ix in self.picks.items() if len(ix) == 1)

    @cached_property
    def _alternatives(self) -> tuple[tuple[str, tuple[int, ...]], ...]:
        return tuple((t, ix) for t, ix in self.picks.items() if len(ix) > 1)


def resolve_header(
    found: Sequence[str],
    mapping: ColumnMapping,
    required: Sequence[str],
    optional: Sequence[str],
) -> Layout:
    """The layout of a mapped file, or ``ConfigError`` naming what is missing."""
    names = [name.strip().lstrip("\ufeff").strip() for name in found]
    index: dict[str, list[int]] = {}
    for i, name in enumerate(names):
        index.setdefault(name.casefold(), []).append(i)
    picks: dict[str, tuple[int, ...]] = {}
    problems: list[str] = []
    for target in (*required, *optional):
        headers = mapping.columns.get(target)
        if headers is None:
            own = index.get(target.casefold(), [])
            if len(own) == 1:
                picks[target] = (own[0],)
            elif own:
                problems.append(f"column {target!r} is repeated")
            continue
        present = [h for h in headers if h.casefold() in index]
        repeated = [h for h in present if len(index[h.casefold()]) > 1]
        if repeated:
            problems.append(f"column {repeated[0]!r} (for {target}) is repeated")
        elif not present:
            quoted = " or ".join(repr(h) for h in headers)
            problems.append(f"no column {quoted} (mapped to {target})")
        else:
            picks[target] = tuple(index[h.casefold()][0] for h in present)
    missing = [t for t in required if t not in picks and t not in mapping.defaults]
    if missing:
        problems.append(
            f"missing field(s): {', '.join(missing)} (map a column to each, or give a default)"
        )
    if problems:
        raise ConfigError(f"bad header: {'; '.join(problems)}")
    used = {i for indexes in picks.values() for i in indexes}
    ignored = tuple(name or "(empty)" for i, name in enumerate(names) if i not in used)
    return Layout(picks, dict(mapping.defaults), ignored, len(names))
