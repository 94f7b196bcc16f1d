"""``reconsent retention apply``: minimise whom the retention policy no longer lets us keep."""

from __future__ import annotations

from typing import Any

import typer
from rich.table import Table

from reconsent.cli.context import console, engine, parse_time, print_json, settings
from reconsent.kernel.clock import SystemClock

retention_app = typer.Typer(
    help="Storage limitation: identities reduced to suppression hashes, evidence shredded.",
    no_args_is_help=True,
)


@retention_app.command("apply")
def apply(
    dry_run: bool = typer.Option(False, "--dry-run", help="Count only; change nothing."),
    as_json: bool = typer.Option(False, "--json", help="The report as JSON."),
    now: str | None = typer.Option(None, "--now", help="ISO time to apply the policy at."),
) -> None:
    """Reduce everyone past every retention limit to their address hashes and shred their
    identifying evidence (counts only are reported)."""
    from reconsent.retention.minimisation import run_retention

    cfg = settings()
    at = parse_time(now) or SystemClock().now()
    eng = engine(cfg)
    try:
        report = run_retention(eng, cfg, at, dry_run=dry_run)
    finally:
        eng.dispose()
    if as_json:
        print_json(report.as_dict())
        return
    print_report(report.as_dict())


def print_report(data: dict[str, Any]) -> None:
    """The counts of a retention run, as a table (never a name, an address or an id)."""
    verb = "would minimise" if data["dry_run"] else "minimised"
    table = Table("", "people")
    for reason, n in data["minimised"].items():
        table.add_row(f"{verb}: {reason}", str(n))
    for reason, n in data["kept"].items():
        table.add_row(f"kept: {reason}", str(n))
    console.print(table)
    console.print(
        f"{data['considered']} people considered; {verb} {data['minimised_total']}; "
        f"evidence keys {'to shred' if data['dry_run'] else 'shredded'}: "
        f"{data['evidence_keys_shredded']}; "
        f"address hashes kept in the suppression list: {data['addresses_suppressed']}; "
        f"old one-time code challenges {'to delete' if data['dry_run'] else 'deleted'}: "
        f"{data['codes_deleted']}" + (" (dry run: nothing changed)" if data["dry_run"] else "")
    )
