"""Importing the catalog, contacts, consent history and suppression lists."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

import typer
from rich.table import Table

from reconsent.cli.context import (
    console,
    engine,
    errors,
    parse_time,
    print_json,
    session,
    settings,
)
from reconsent.cli.import_options import (
    COLUMN,
    DEFAULT_LOCALE,
    DEFAULT_TIMEZONE,
    DELIMITER,
    ENCODING,
    MAP,
    PROGRESS,
    TIMEZONE_FROM_PHONE,
    file_format,
    progress_bar,
)
from reconsent.kernel.clock import SystemClock
from reconsent.kernel.errors import ImportStopped

if TYPE_CHECKING:
    from reconsent.imports.csvfile import FileFormat

catalog_app = typer.Typer(help="Purposes and privacy notices.", no_args_is_help=True)
contacts_app = typer.Typer(help="The contact base.", no_args_is_help=True)
consents_app = typer.Typer(help="Consent history from a CRM.", no_args_is_help=True)
suppressions_app = typer.Typer(help="Do-not-contact lists.", no_args_is_help=True)

FILE = typer.Argument(..., exists=False, dir_okay=False, help="Path of the file.")
JSON = typer.Option(False, "--json", help="Machine-readable report.")


def _report(report: Any, as_json: bool, what: str, *, exit_on_errors: bool = True) -> None:
    data = report.as_dict() if hasattr(report, "as_dict") else dataclasses.asdict(report)
    if as_json:
        print_json(data)
    else:
        counts = {k: v for k, v in data.items() if isinstance(v, int)}
        if not counts.get("suppressions"):
            counts.pop("suppressions", None)  # only a contacts file's opt-outs make some
        console.print(f"{what}: " + ", ".join(f"{k} {v}" for k, v in counts.items()))
        if data.get("ignored_columns"):  # names only, never a value
            console.print(
                "ignored columns (not imported): " + ", ".join(data["ignored_columns"]),
                highlight=False,
                markup=False,
            )
        for err in data.get("errors", [])[:50]:
            errors.print(f"  line {err['line']}: {err['reason']}", highlight=False, markup=False)
        if len(data.get("errors", [])) > 50:
            errors.print(f"  ... and {len(data['errors']) - 50} more (use --json)")
    if data.get("errors") and exit_on_errors:
        raise typer.Exit(1)  # some rows were rejected: say so in the exit status


def _require(path: Path) -> Path:
    if not path.is_file():
        from reconsent.kernel.errors import ConfigError

        raise ConfigError(f"{path}: no such file")
    return path


@catalog_app.command("load")
def catalog_load(path: Path = FILE, as_json: bool = JSON) -> None:
    """Load purposes and publish notice versions from a catalog TOML file."""
    from reconsent.campaigns.catalog_file import load_catalog

    cfg = settings()
    with session(cfg) as s:
        report = load_catalog(s, _require(path), cfg, SystemClock().now())
    _report(report, as_json, "catalog")


@catalog_app.command("list")
def catalog_list() -> None:
    """List purposes, processors and published notices."""
    from sqlalchemy import select

    from models import Notice, Processor, Purpose

    with session() as s:
        table = Table("purpose", "channel", "lifetime (months)", "title (en)")
        for p in s.scalars(select(Purpose).order_by(Purpose.code)):
            table.add_row(
                p.code,
                p.channel.value if p.channel else "-",
                str(p.lifetime_months),
                str(p.titles.get("en", "")),
            )
        console.print(table)
        processors = Table("processor", "name", "country", "transfer", "service")
        for x in s.scalars(select(Processor).order_by(Processor.code)):
            processors.add_row(x.code, x.name, x.country, x.transfer_mechanism.value, x.service)
        console.print(processors)
        notices = Table("notice version", "locale", "digest", "published")
        for n in s.scalars(select(Notice).order_by(Notice.version, Notice.locale)):
            notices.add_row(n.version, n.locale, n.digest[:16], n.published_at.isoformat())
        console.print(notices)


def _run_import(
    importer: Any, path: Path, as_json: bool, what: str, fmt: FileFormat, progress: bool
) -> None:
    """One import: settings, an engine for the run, the report (exit 1 if rows were
    rejected; exit 2 after the report if a fatal error stopped it at a line)."""
    cfg = settings()
    eng = engine(cfg)
    try:
        with progress_bar(_require(path), progress) as bar:
            report = importer(eng, path, cfg, SystemClock().now(), replace(fmt, progress=bar))
    except ImportStopped as exc:
        if exc.report is not None:
            _report(exc.report, as_json, what, exit_on_errors=False)
        raise
    finally:
        eng.dispose()
    _report(report, as_json, what)


@contacts_app.command("import")
def contacts_import(
    path: Path = FILE,
    as_json: bool = JSON,
    map_file: Path | None = MAP,
    column: list[str] = COLUMN,
    encoding: str | None = ENCODING,
    delimiter: str | None = DELIMITER,
    default_locale: str | None = DEFAULT_LOCALE,
    default_timezone: str | None = DEFAULT_TIMEZONE,
    timezone_from_phone: bool = TIMEZONE_FROM_PHONE,
    progress: bool = PROGRESS,
) -> None:
    """Import or update contacts.

    CSV header: external_id,given_name,family_name,email,phone,locale,timezone.

    A CRM's own export: with --map (see examples/crm/) or --column.
    """
    from reconsent.imports import import_contacts

    fmt = file_format(
        map_file, column, encoding, delimiter, default_locale=default_locale,
        default_timezone=default_timezone, timezone_from_phone=timezone_from_phone,
    )  # fmt: skip
    _run_import(import_contacts, path, as_json, "contacts", fmt, progress)


def _file_import(importer: str, what: str) -> Callable[..., None]:
    """The command of an import whose only options are the file's (mapping, encoding...)."""

    def command(
        path: Path = FILE,
        as_json: bool = JSON,
        map_file: Path | None = MAP,
        column: list[str] = COLUMN,
        encoding: str | None = ENCODING,
        delimiter: str | None = DELIMITER,
        progress: bool = PROGRESS,
    ) -> None:
        from reconsent import imports

        fmt = file_format(map_file, column, encoding, delimiter)
        _run_import(getattr(imports, importer), path, as_json, what, fmt, progress)

    return command


consents_app.command(
    "import",
    help="Import consent history from a CRM.\n\n"
    "CSV header: external_id,purpose,state,captured_at,notice_version,channel,source "
    "(plus an optional evidence_ref column); other headers with --map or --column.",
)(_file_import("import_consents", "consents"))
suppressions_app.command(
    "import",
    help="Import a do-not-contact list (CSV: address,channel,reason,source); only hashes are kept.",
)(_file_import("import_suppressions", "suppressions"))


rpo_app = typer.Typer(
    help="Italy's Registro Pubblico delle Opposizioni: the register's answers.",
    no_args_is_help=True,
)


@rpo_app.command("import")
def rpo_import(
    path: Path = FILE,
    consulted_at: str = typer.Option(
        ..., "--consulted-at", help="When the register answered (ISO 8601, e.g. 2026-12-01)."
    ),
    source: str = typer.Option("rpo", help="Who answered (the register, a provider)."),
    as_json: bool = JSON,
) -> None:
    """Record one consultation (CSV: phone,registered_at of the registered numbers).

    Calls to Italian numbers need a consultation at most RECONSENT_RPO_VALIDITY_DAYS
    old; each registration invalidates the call consents given before it (except
    for contacts with an active contract), at once. Only hashes are kept.
    """
    from reconsent.imports.rpo_answers import import_rpo

    when = parse_time(consulted_at if "T" in consulted_at else f"{consulted_at}T00:00:00Z")
    assert when is not None
    cfg = settings()
    eng = engine(cfg)
    try:
        report = import_rpo(
            eng, _require(path), cfg, consulted_at=when, source=source, now=SystemClock().now()
        )
    finally:
        eng.dispose()
    _report(report, as_json, "rpo registrations")
