"""What the importers share: parsing a batch of rows and recording the refused ones."""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

from reconsent.imports.csvfile import RawRow
from reconsent.imports.report import ImportReport, RowError
from reconsent.kernel.errors import InvalidRowError

RowT = TypeVar("RowT")


def parse_batch(
    batch: list[RawRow | RowError],
    parse: Callable[[RawRow], RowT],
    report: ImportReport,
) -> list[tuple[int, RowT]]:
    """Count the batch's rows, record the refused ones, return the parsed ones by line."""
    parsed: list[tuple[int, RowT]] = []
    for item in batch:
        report.read += 1
        if isinstance(item, RowError):
            report.errors.append(item)
            continue
        try:
            parsed.append((item.line, parse(item)))
        except InvalidRowError as exc:
            report.error(item.line, str(exc))
    return parsed
