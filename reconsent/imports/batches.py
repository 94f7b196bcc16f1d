"""What the importers share: parsing a batch of rows, recording the refused ones,
writing a batch in one transaction, and stopping cleanly at a fatal error.

A batch the database refuses is written again one row per transaction, so every
row before the refused one is kept; the import then stops naming that row's
line.  The database's own message is never shown: it may quote the row's values
(PostgreSQL's "Key (email)=(...) already exists"); its kind and code are.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import TypeVar

from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session

from reconsent.db import SessionSource, unit_of_work
from reconsent.imports.csvfile import RawRow
from reconsent.imports.redaction import redact
from reconsent.imports.report import ImportReport, RowError
from reconsent.kernel.errors import ImportStopped, InvalidRowError

RowT = TypeVar("RowT")
log = logging.getLogger(__name__)


def parse_batch(
    batch: list[RawRow | RowError],
    parse: Callable[[RawRow], RowT],
    report: ImportReport,
    personal: Sequence[str] = (),
) -> list[tuple[int, RowT]]:
    """Count the batch's rows, record the refused ones, return the parsed ones by line.

    A refusal's reason is cleared of the row's ``personal`` fields (names, e-mail,
    phone) whatever field it is about."""
    parsed: list[tuple[int, RowT]] = []
    for item in batch:
        report.read += 1
        if isinstance(item, RowError):
            report.errors.append(item)
            continue
        try:
            parsed.append((item.line, parse(item)))
        except InvalidRowError as exc:
            raws = [item.values.get(name, "") for name in personal]
            # and each word of a name ("Anna Maria"): a mapping may feed one to a code
            raws += [w for name in personal if "name" in name for w in raws_of(item, name)]
            report.error(item.line, redact(str(exc), raws))
    return parsed


def raws_of(item: RawRow, name: str) -> list[str]:
    return item.values.get(name, "").split()


def write_rows(
    engine: SessionSource,
    rows: list[tuple[int, RowT]],
    write: Callable[[Session, list[tuple[int, RowT]]], None],
    report: ImportReport,
    committed: Callable[[], None] | None = None,
) -> None:
    """``write(session, rows)`` in one transaction; if the database refuses it, row by
    row (``committed`` runs after each commit), stopping at the first refused row."""
    mark = report.mark()
    try:
        with unit_of_work(engine) as session:
            write(session, rows)
    except DBAPIError as exc:
        report.restore(mark)
        log.info("import batch from line %d refused (%s): row by row", rows[0][0], _kind(exc))
    else:
        if committed is not None:
            committed()
        return
    for line, row in rows:
        mark = report.mark()
        try:
            with unit_of_work(engine) as session:
                write(session, [(line, row)])
        except DBAPIError as exc:
            report.restore(mark)
            raise ImportStopped(
                f"{report.file}: line {line}: the database refused the row ({_kind(exc)}): "
                "every row before it was imported; import the file again once it is "
                "fixed (re-imports change nothing)",
                line=line,
            ) from None
        if committed is not None:
            committed()


@contextmanager
def stopping(report: ImportReport) -> Iterator[None]:
    """Give an :class:`ImportStopped` raised inside the report of what was done."""
    try:
        yield
    except ImportStopped as exc:
        report.stop(exc.line, str(exc))
        exc.report = report
        log.info("import stopped: %s", report.summary())
        raise


def _kind(exc: DBAPIError) -> str:
    """The error's class and code (SQLSTATE, SQLite's error name), never its message."""
    orig = exc.orig
    code = getattr(orig, "sqlstate", None) or getattr(orig, "sqlite_errorname", None)
    name = type(orig).__name__ if orig is not None else type(exc).__name__
    return f"{name} {code}" if code else name
