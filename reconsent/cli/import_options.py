"""The options every CSV import shares: mapping, encoding, delimiter, progress bar."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

import typer
from rich.progress import BarColumn, DownloadColumn, Progress, TextColumn, TimeRemainingColumn

from reconsent.cli.context import errors

if TYPE_CHECKING:
    from reconsent.imports.csvfile import FileFormat

#: A file at least this big gets a progress bar on a terminal without asking.
PROGRESS_FROM_BYTES = 1 << 20

MAP = typer.Option(
    None,
    "--map",
    dir_okay=False,
    help="A TOML file mapping our fields to the file's headers (see examples/crm/).",
)
COLUMN = typer.Option(
    [],
    "--column",
    metavar='FIELD="Header"',
    help='Map one field to the file\'s column, e.g. external_id="Record ID" (repeatable; '
    "wins over --map).",
)
ENCODING = typer.Option(
    None,
    "--encoding",
    help="The file's encoding, e.g. cp1252, latin-1, utf-16 (default: UTF-8, BOM or not; "
    "UTF-16 when the file starts with its BOM).",
)
DELIMITER = typer.Option(
    None, "--delimiter", help="comma, semicolon or tab (default: sniffed among the three)."
)
PROGRESS = typer.Option(
    False,
    "--progress",
    help="Show a progress bar on stderr (shown anyway for big files on a terminal).",
)
DEFAULT_LOCALE = typer.Option(
    None, "--default-locale", help="The locale of rows with none (e.g. it), or of a file without."
)
DEFAULT_TIMEZONE = typer.Option(
    None,
    "--default-timezone",
    help="The IANA zone of rows with none (e.g. Europe/Rome), or of a file without.",
)
TIMEZONE_FROM_PHONE = typer.Option(
    False,
    "--timezone-from-phone",
    help="Rows with no timezone take the phone number's, when its area keeps one clock "
    "(+39: Europe/Rome); else --default-timezone.",
)


def file_format(
    map_file: Path | None,
    columns: list[str],
    encoding: str | None,
    delimiter: str | None,
    *,
    default_locale: str | None = None,
    default_timezone: str | None = None,
    timezone_from_phone: bool = False,
) -> FileFormat:
    """The options as one :class:`FileFormat` (``ConfigError`` for a bad mapping)."""
    from reconsent.imports.csvfile import FileFormat  # the importers load on use
    from reconsent.imports.mapping import load_mapping

    mapping = load_mapping(
        map_file,
        columns,
        {"locale": default_locale, "timezone": default_timezone},
        timezone_from_phone=timezone_from_phone,
    )
    return FileFormat(mapping=mapping, encoding=encoding, delimiter=delimiter)


@contextmanager
def progress_bar(path: Path, wanted: bool) -> Iterator[Callable[[int, int], None] | None]:
    """A progress bar on stderr, if ``wanted`` or on a terminal for a big file."""
    try:
        size = path.stat().st_size
    except OSError:
        size = 0
    if not (wanted or (errors.is_terminal and size >= PROGRESS_FROM_BYTES)):
        yield None
        return
    columns = (
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        DownloadColumn(),
        TimeRemainingColumn(),
    )
    with Progress(*columns, console=errors) as bar:
        task = bar.add_task(f"importing {path.name}", total=size or None)
        yield lambda done, total: bar.update(task, completed=done, total=total)
