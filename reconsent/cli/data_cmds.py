"""Importing the catalog, contacts, consent history and suppression lists."""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

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
from reconsent.kernel.clock import SystemClock

catalog_app = typer.Typer(help="Purposes and privacy notices.", no_args_is_help=True)
contacts_app = typer.Typer(help="The contact base.", no_args_is_help=True)
consents_app = typer.Typer(help="Consent history from a CRM.", no_args_is_help=True)
suppressions_app = typer.Typer(help="Do-not-contact lists.", no_args_is_help=True)

FILE = typer.Argument(..., exists=False, dir_okay=False, help="Path of the file.")
JSON = typer.Option(False, "--json", help="Machine-readable report.")


def _report(report: Any, as_json: bool, what: str) -> None:
    data = report.as_dict() if hasattr(report, "as_dict") else dataclasses.asdict(report)
    if as_json:
        print_json(data)
    else:
        counts = {k: v for k, v in data.items() if isinstance(v, int)}
        console.print(f"{what}: " + ", ".join(f"{k} {v}" for k, v in counts.items()))
        for err in data.get("errors", [])[:50]:
            errors.print(f"  line {err['line']}: {err['reason']}", highlight=False)
        if len(data.get("errors", [])) > 50:
            errors.print(f"  ... and {len(data['errors']) - 50} more (use --json)")
    if data.get("errors"):
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
    """List purposes and published notices."""
    from sqlalchemy import select

    from models import Notice, Purpose

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
        notices = Table("notice version", "locale", "digest", "published")
        for n in s.scalars(select(Notice).order_by(Notice.version, Notice.locale)):
            notices.add_row(n.version, n.locale, n.digest[:16], n.published_at.isoformat())
        console.print(notices)


def _run_import(importer: Any, path: Path, as_json: bool, what: str) -> None:
    """One import: settings, an engine for the run, the report (exit 1 if rows were rejected)."""
    cfg = settings()
    eng = engine(cfg)
    try:
        report = importer(eng, _require(path), cfg, SystemClock().now())
    finally:
        eng.dispose()
    _report(report, as_json, what)


@contacts_app.command("import")
def contacts_import(path: Path = FILE, as_json: bool = JSON) -> None:
    """Import or update contacts.

    CSV header: external_id,given_name,family_name,email,phone,locale,timezone
    """
    from reconsent.imports import import_contacts

    _run_import(import_contacts, path, as_json, "contacts")


@consents_app.command("import")
def consents_import(path: Path = FILE, as_json: bool = JSON) -> None:
    """Import consent history from a CRM.

    CSV header: external_id,purpose,state,captured_at,notice_version,channel,source
    (plus an optional evidence_ref column).
    """
    from reconsent.imports import import_consents

    _run_import(import_consents, path, as_json, "consents")


@suppressions_app.command("import")
def suppressions_import(path: Path = FILE, as_json: bool = JSON) -> None:
    """Import a do-not-contact list (CSV: address,channel,reason,source); only hashes are kept."""
    from reconsent.imports import import_suppressions

    _run_import(import_suppressions, path, as_json, "suppressions")


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
