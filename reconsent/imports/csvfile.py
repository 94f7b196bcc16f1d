"""Streaming CSV reading: header check (or column mapping), line numbers, batches.

Files are decoded by ``reconsent.imports.textfile`` (UTF-8 with or without a BOM,
UTF-16 with a BOM, or the ``encoding`` given) and their delimiter sniffed among
comma, semicolon and tab.  Line numbers count physical lines with the header as
line 1, and name the line where a row starts (a quoted field may span lines).
A fatal problem (undecodable bytes, a quote never closed) first hands over every
complete row before it, then raises :class:`ImportStopped` naming its line.
"""

from __future__ import annotations

import csv
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from reconsent.imports.mapping import ColumnMapping, Layout, resolve_header
from reconsent.imports.report import ImportReport, RowError
from reconsent.imports.textfile import (
    CHUNK,
    choose_encoding,
    decoded_lines,
    delimiter_name,
    sniff_delimiter,
)
from reconsent.kernel.errors import ConfigError, ImportStopped

if TYPE_CHECKING:
    from _csv import Reader

BATCH_SIZE = 1000


@dataclass(frozen=True)
class RawRow:
    line: int
    values: dict[str, str]


@dataclass(frozen=True)
class FileFormat:
    """How to read a CRM's file: column mapping, encoding, delimiter, progress.

    ``progress`` is called with (bytes read, file size) as the file is read."""

    mapping: ColumnMapping | None = None
    encoding: str | None = None  # None: UTF-8 (BOM or not), or UTF-16 with its BOM
    delimiter: str | None = None  # None: sniffed among , ; tab
    progress: Callable[[int, int], None] | None = None


def check_header(
    found: Sequence[str], required: Sequence[str], optional: Sequence[str] = ()
) -> list[str]:
    """The header's column names (trimmed, lower-case), or ``ConfigError`` naming
    the missing, unexpected or repeated columns.  Column order is free."""
    names = [name.strip().lstrip("\ufeff").strip().lower() for name in found]
    problems: list[str] = []
    repeated = sorted({name for name in names if names.count(name) > 1})
    if repeated:
        problems.append(f"repeated column(s): {', '.join(repeated)}")
    missing = [name for name in required if name not in names]
    if missing:
        problems.append(f"missing column(s): {', '.join(missing)}")
    allowed = set(required) | set(optional)
    extra = [name or "(empty)" for name in names if name not in allowed]
    if extra:
        problems.append(f"unexpected column(s): {', '.join(extra)}")
    if problems:
        expected = ",".join(required)
        if optional:
            expected += " (optional: " + ",".join(optional) + ")"
        raise ConfigError(f"bad header: {'; '.join(problems)}; expected {expected}")
    return names


def layout_of(
    header: Sequence[str],
    mapping: ColumnMapping | None,
    required: Sequence[str],
    optional: Sequence[str],
) -> Layout:
    """Our own layout (strict: every column known) unless ``mapping`` maps columns."""
    mapping = mapping or ColumnMapping()
    if mapping.columns:
        return resolve_header(header, mapping, required, optional)
    defaulted = [name for name in required if name in mapping.defaults]
    names = check_header(
        header, [n for n in required if n not in defaulted], [*defaulted, *optional]
    )
    return Layout(
        {name: (i,) for i, name in enumerate(names)}, dict(mapping.defaults), (), len(names)
    )


def read_batches(
    path: Path,
    required: Sequence[str],
    optional: Sequence[str] = (),
    size: int = BATCH_SIZE,
    *,
    fmt: FileFormat | None = None,
    report: ImportReport | None = None,
    deferred: frozenset[str] = frozenset(),
) -> Iterator[list[RawRow | RowError]]:
    """Yield lists of at most ``size`` rows; a row with the wrong number of fields
    comes as a ``RowError``.  The header is checked before the first batch, so a
    bad header raises ``ConfigError`` before anything is imported.  The columns a
    mapping leaves out go to ``report.ignored_columns``; ``deferred`` fields get no
    default from the mapping (their parser applies it)."""
    fmt = fmt or FileFormat()
    try:
        handle = path.open("rb")
        total = path.stat().st_size
    except OSError as exc:
        raise ConfigError(f"{path}: cannot open: {exc.strerror or exc}") from None
    with handle:
        head = handle.read(CHUNK)
        handle.seek(0)
        try:
            encoding = choose_encoding(head, fmt.encoding)
            sample = head.decode(encoding, errors="ignore")
            delimiter = sniff_delimiter(sample.lstrip("\ufeff"), fmt.delimiter)
        except ConfigError as exc:
            raise ConfigError(f"{path}: {exc}") from None
        progress = fmt.progress
        lines = decoded_lines(
            handle, encoding, str(path), None if progress is None else lambda n: progress(n, total)
        )
        reader = csv.reader(lines, delimiter=delimiter, strict=True)
        yield from _batches(reader, path, (required, optional), fmt, report, size, deferred)


def _batches(
    reader: Reader,
    path: Path,
    fields: tuple[Sequence[str], Sequence[str]],
    fmt: FileFormat,
    report: ImportReport | None,
    size: int,
    deferred: frozenset[str],
) -> Iterator[list[RawRow | RowError]]:
    header = next(reader, None)
    if header is None:
        raise ConfigError(f"{path}: empty file (expected a header line)")
    try:
        layout = layout_of(header, fmt.mapping, *fields)
    except ConfigError as exc:
        where = f"{path} ({delimiter_name(reader.dialect.delimiter)}-separated)"
        raise ConfigError(f"{where}: {exc}") from None
    if report is not None:
        report.ignored_columns = list(layout.ignored)
    last_line = reader.line_num
    batch: list[RawRow | RowError] = []
    while True:
        try:
            fields_ = next(reader, None)
        except ImportStopped:
            if batch:
                yield batch
            raise
        except csv.Error as exc:
            line, last_line = last_line + 1, reader.line_num
            if "expected after" not in str(exc):
                if batch:
                    yield batch
                raise ImportStopped(
                    f"{path}: line {line}: unreadable CSV ({_csv_problem(exc)}): every row "
                    "before it was imported; fix the file and import it again (re-imports "
                    "change nothing)",
                    line=line,
                ) from None
            batch.append(RowError(line, _csv_problem(exc)))
            continue
        if fields_ is None:
            break
        line, last_line = last_line + 1, reader.line_num
        if not any(value.strip() for value in fields_):
            continue  # blank line, or an Excel row of empty cells
        if len(fields_) != layout.width:
            batch.append(RowError(line, f"expected {layout.width} fields, found {len(fields_)}"))
        else:
            batch.append(RawRow(line, layout.values(fields_, deferred)))
        if len(batch) >= size:
            yield batch
            batch = []
    if batch:
        yield batch


def _csv_problem(exc: csv.Error) -> str:
    """The csv module's words, without the field it may quote."""
    text = str(exc)
    if "end of data" in text:
        return "a quoted field is never closed"
    if "field larger than field limit" in text:
        return "a field longer than 128 KB: probably a quote never closed"
    if "expected after" in text:
        return 'a quote inside a quoted field must be doubled ("")'
    return text.split(":")[0][:80]
