"""``reconsent wave report``, ``wave outcomes export``, ``wave audience export``: what a
wave did and whom it would ask, for people (Markdown), spreadsheets (CSV) and
programs (JSON)."""

from __future__ import annotations

import sys
from collections.abc import Iterable
from enum import StrEnum
from pathlib import Path
from typing import TextIO

import typer

from reconsent.cli.context import parse_time, print_json, session, settings, shown
from reconsent.kernel.clock import SystemClock

WAVE = typer.Argument(..., help="Wave id (see `reconsent wave list`).")
OUT = typer.Option(None, "--out", help="Write to this file (default: standard output).")
outcomes_app = typer.Typer(help="What each person answered, for the CRM.", no_args_is_help=True)
audience_app = typer.Typer(help="Whom the wave asks, and why not the others.", no_args_is_help=True)


class ReportFormat(StrEnum):
    MD = "md"
    CSV = "csv"
    JSON = "json"


class LinesFormat(StrEnum):
    CSV = "csv"
    JSONL = "jsonl"


def report(
    wave_id: int = WAVE,
    fmt: ReportFormat = typer.Option(ReportFormat.MD, "--format", help="md, csv or json."),
) -> None:
    """Per step, channel and locale, per purpose and per day: sent, delivered, answered,
    confirmed, refused, with rates (counts only)."""
    from reconsent.campaigns.wave_report import render_csv, render_markdown, wave_report
    from reconsent.campaigns.waves import get_wave

    with session() as s:
        found = wave_report(s, get_wave(s, wave_id))
    if fmt is ReportFormat.JSON:
        print_json(found)
    elif fmt is ReportFormat.CSV:
        sys.stdout.write(render_csv(found))
    else:
        title = f"Wave {wave_id}: {shown(found['name'])}"
        sys.stdout.write(render_markdown(found, title=title))


def _write(lines: Iterable[str], out: Path | None) -> int:
    count = 0
    target: TextIO = out.open("w", encoding="utf-8", newline="") if out else sys.stdout
    try:
        for line in lines:
            target.write(line)
            count += 1
    finally:
        if out:
            target.close()
    return count


@outcomes_app.command("export")
def outcomes_export(
    wave_id: int = WAVE,
    fmt: LinesFormat = typer.Option(LinesFormat.CSV, "--format", help="csv or jsonl."),
    out: Path | None = OUT,
) -> None:
    """One row per person asked and purpose: answer, channel, time, how the request
    ended. People are named by the CRM's id only."""
    from reconsent.campaigns.wave_outcomes import outcome_lines, outcome_rows
    from reconsent.campaigns.waves import get_wave

    with session() as s:
        lines = outcome_lines(outcome_rows(s, get_wave(s, wave_id)), fmt.value)
        written = _write(lines, out)
    if out:
        print(f"{out}: {max(0, written - (fmt is LinesFormat.CSV))} row(s)", file=sys.stderr)


@audience_app.command("export")
def audience_export(
    wave_id: int = WAVE,
    out: Path | None = OUT,
    with_contacts: bool = typer.Option(
        False, "--with-contacts", help="Add names, e-mail, phone and locale (personal data)."
    ),
    at: str | None = typer.Option(None, "--now", help="Classify at this ISO time."),
) -> None:
    """Every contact with the reason the wave asks them or not (eligible, refused,
    objected, no_lawful_basis...), the basis and each channel's block, as CSV."""
    from reconsent.campaigns.wave_outcomes import csv_lines
    from reconsent.campaigns.waves import get_wave
    from reconsent.planning.audience import AUDIENCE_FIELDS, CONTACT_FIELDS, audience_rows

    fields = AUDIENCE_FIELDS + (CONTACT_FIELDS if with_contacts else ())
    now = parse_time(at) or SystemClock().now()
    with session() as s:
        rows = audience_rows(
            s,
            get_wave(s, wave_id),
            now,
            rpo_validity_days=settings().rpo_validity_days,
            with_contacts=with_contacts,
        )
        written = _write(csv_lines(rows, fields), out)
    if out:
        print(f"{out}: {max(0, written - 1)} contact(s)", file=sys.stderr)


def register(app: typer.Typer) -> None:
    app.command("report")(report)
    app.add_typer(outcomes_app, name="outcomes")
    app.add_typer(audience_app, name="audience")
