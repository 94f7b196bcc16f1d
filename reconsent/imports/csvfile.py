"""Streaming CSV reading: header check, line numbers, batches.

Files are read as UTF-8 with an optional byte-order mark (what Excel writes).
Line numbers count physical lines with the header as line 1, and name the
line where a row starts (a quoted field may span lines).
"""

from __future__ import annotations

import csv
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

from reconsent.imports.report import RowError
from reconsent.kernel.errors import ConfigError

BATCH_SIZE = 1000


@dataclass(frozen=True)
class RawRow:
    line: int
    values: dict[str, str]


def check_header(
    found: Sequence[str], required: Sequence[str], optional: Sequence[str] = ()
) -> list[str]:
    """The header's column names (trimmed, lower-case), or ``ConfigError`` naming
    the missing, unexpected or repeated columns.  Column order is free."""
    names = [name.strip().lower() for name in found]
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


def read_batches(
    path: Path,
    required: Sequence[str],
    optional: Sequence[str] = (),
    size: int = BATCH_SIZE,
) -> Iterator[list[RawRow | RowError]]:
    """Yield lists of at most ``size`` rows; a row with the wrong number of fields
    comes as a ``RowError``.  The header is checked before the first batch, so a
    bad header raises ``ConfigError`` before anything is imported."""
    try:
        handle = path.open(encoding="utf-8-sig", newline="")
    except OSError as exc:
        raise ConfigError(f"{path}: cannot open: {exc.strerror or exc}") from None
    with handle:
        reader = csv.reader(handle)
        last_line = 0
        try:
            header = next(reader, None)
            if header is None:
                raise ConfigError(f"{path}: empty file (expected a header line)")
            try:
                columns = check_header(header, required, optional)
            except ConfigError as exc:
                raise ConfigError(f"{path}: {exc}") from None
            last_line = reader.line_num
            batch: list[RawRow | RowError] = []
            for fields in reader:
                line, last_line = last_line + 1, reader.line_num
                if not any(value.strip() for value in fields):
                    continue  # blank line, or an Excel row of empty cells
                if len(fields) != len(columns):
                    batch.append(
                        RowError(line, f"expected {len(columns)} fields, found {len(fields)}")
                    )
                else:
                    batch.append(RawRow(line, dict(zip(columns, fields, strict=True))))
                if len(batch) >= size:
                    yield batch
                    batch = []
            if batch:
                yield batch
        except UnicodeDecodeError:
            raise ConfigError(
                f"{path}: not valid UTF-8 after line {last_line}; rows before it were "
                "imported: save the file as UTF-8 and import it again (re-imports change nothing)"
            ) from None
        except csv.Error as exc:
            raise ConfigError(
                f"{path}: unreadable CSV after line {last_line} ({exc}); rows before it were "
                "imported: fix the file and import it again (re-imports change nothing)"
            ) from None
