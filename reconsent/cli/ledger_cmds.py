"""``reconsent ledger verify``: prove nobody rewrote the consent history."""

from __future__ import annotations

import time

import typer
from rich.table import Table

from reconsent.cli.context import console, print_json, settings

ledger_app = typer.Typer(
    help="The consent ledger (append-only, hash-chained).", no_args_is_help=True
)


@ledger_app.command("verify")
def verify(as_json: bool = typer.Option(False, "--json", help="Machine-readable report.")) -> None:
    """Walk every subject's hash chain; exit 1 and list each break if anything was changed."""
    from reconsent.ledger.verify import verify_ledger_parallel

    started = time.perf_counter()
    report = verify_ledger_parallel(settings().database_url)
    seconds = time.perf_counter() - started
    if as_json:
        print_json({**report.as_dict(), "seconds": round(seconds, 3)})
    else:
        console.print(
            f"{report.events} events of {report.subjects} subjects checked in {seconds:.2f} s"
        )
        if report.ok:
            console.print("[green]ledger intact[/green]: every chain verifies")
        else:
            table = Table("subject", "event", "break", "detail")
            for b in report.breaks:
                table.add_row(b.subject_id, b.event_id, b.kind, b.detail)
            console.print(table)
            console.print(f"[red]{len(report.breaks)} break(s)[/red]")
    if not report.ok:
        raise typer.Exit(1)
