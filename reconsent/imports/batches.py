"""What the importers share: where their sessions come from, and row dispatch."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TypeVar

from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from reconsent.db import session_factory
from reconsent.imports.csvfile import RawRow
from reconsent.imports.report import ImportReport, RowError
from reconsent.kernel.errors import InvalidRowError

#: An importer writes through an engine or a session factory built on one.
Target = Engine | sessionmaker[Session]
RowT = TypeVar("RowT")


@contextmanager
def batch_transaction(target: Target) -> Iterator[Session]:
    """One transaction per batch: committed on success, rolled back on error."""
    factory = session_factory(target) if isinstance(target, Engine) else target
    with factory() as session, session.begin():
        yield session


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
