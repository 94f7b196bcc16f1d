"""``reconsent ledger``: prove nobody rewrote the consent history.

``verify`` walks every chain and the projection; with ``--checkpoints`` it also
holds every signed checkpoint's prefix unchanged. ``checkpoint`` writes one
(``reconsent/ledger/checkpoints.py``); ``checkpoint-keygen`` makes its key.
"""

from __future__ import annotations

import time
from pathlib import Path

import typer
from rich.table import Table

from reconsent.cli.context import console, engine, errors, print_json, settings
from reconsent.kernel.errors import ConfigError

ledger_app = typer.Typer(
    help="The consent ledger (append-only, hash-chained, anchored by signed checkpoints).",
    no_args_is_help=True,
)


@ledger_app.command("verify")
def verify(
    as_json: bool = typer.Option(False, "--json", help="Machine-readable report."),
    checkpoints: Path | None = typer.Option(
        None,
        "--checkpoints",
        help="A folder of signed checkpoints: prove every checkpointed prefix is unchanged.",
    ),
    public_key: str | None = typer.Option(
        None,
        help="The published checkpoint public key (base64). Default: the one of "
        "RECONSENT_CHECKPOINT_SIGNING_KEY, else the key each checkpoint names.",
    ),
) -> None:
    """Walk every subject's hash chain, the current-state projection and the suppression
    list against its log (and, with --checkpoints, every signed prefix); exit 1 and list
    each break if anything changed."""
    from reconsent.db import make_engine
    from reconsent.ledger.checkpoints import verify_with_checkpoints
    from reconsent.ledger.suppression_check import verify_suppressions
    from reconsent.ledger.verify import Break, verify_ledger_parallel

    cfg = settings()
    started = time.perf_counter()
    key = public_key or _configured_public_key()
    if checkpoints is None:
        report = verify_ledger_parallel(cfg.database_url)
    else:
        if key is None and not as_json:
            errors.print(
                "[yellow]note:[/yellow] no --public-key: each checkpoint is checked against "
                "the key it names (pass the published key to be sure it is yours)",
                highlight=False,
            )
        report = verify_with_checkpoints(cfg.database_url, checkpoints, key)
    # The suppression list the gate trusts, against its trigger-written log.
    listed = make_engine(cfg.database_url)
    try:
        for line in verify_suppressions(listed):
            report.breaks.append(Break("-", "-", "suppression_mismatch", line))
    finally:
        listed.dispose()
    seconds = time.perf_counter() - started
    if as_json:
        print_json({**report.as_dict(), "seconds": round(seconds, 3)})
    else:
        versions = ", ".join(f"v{v}: {n}" for v, n in sorted(report.versions.items()))
        console.print(
            f"{report.events} events of {report.subjects} subjects checked in {seconds:.2f} s"
            + (f" (hash {versions})" if versions else "")
        )
        for c in report.checkpoints:
            state = "[green]unchanged[/green]" if c["ok"] else "[red]changed[/red]"
            console.print(f"checkpoint {c['file']} (events <= #{c['last_event_id']}): {state}")
        if report.ok:
            console.print("[green]ledger intact[/green]: every chain verifies")
            if checkpoints is None:
                console.print(
                    "a chain rewritten with every hash recomputed is caught only against "
                    "a signed checkpoint: `reconsent ledger verify --checkpoints DIR`"
                )
        else:
            table = Table("subject", "event", "break", "detail")
            for b in report.breaks:
                table.add_row(b.subject_id, b.event_id, b.kind, b.detail)
            console.print(table)
            console.print(f"[red]{len(report.breaks)} break(s)[/red]")
    if not report.ok:
        raise typer.Exit(1)


def _configured_public_key() -> str | None:
    from reconsent.ledger.checkpoint_signing import public_key_of

    key = settings().checkpoint_signing_key
    return None if key is None else public_key_of(key.get_secret_value())


@ledger_app.command("checkpoint")
def checkpoint(
    out: Path = typer.Option(
        ..., "--out", help="The folder the checkpoint goes to (outside the database)."
    ),
    as_json: bool = typer.Option(False, "--json", help="Print the signed statement."),
) -> None:
    """Write a signed checkpoint: the highest event id, the count, the time, and a Merkle
    root over every chain head (the heads themselves in a side file)."""
    from reconsent.kernel.clock import SystemClock
    from reconsent.ledger.checkpoints import take_checkpoint

    cfg = settings()
    if cfg.checkpoint_signing_key is None:
        raise ConfigError(
            "RECONSENT_CHECKPOINT_SIGNING_KEY is not set "
            "(`reconsent ledger checkpoint-keygen` makes one)"
        )
    started = time.perf_counter()
    eng = engine(cfg)
    try:
        taken = take_checkpoint(
            eng,
            out,
            cfg.checkpoint_signing_key.get_secret_value(),
            SystemClock().now(),
            cfg.controller_name,
        )
    finally:
        eng.dispose()
    seconds = time.perf_counter() - started
    if as_json:
        print_json(taken.statement)
        return
    s = taken.statement
    console.print(
        f"checkpoint {taken.path}: {s['events']} events of {s['subjects']} subjects "
        f"up to #{s['last_event_id']}, heads root {s['heads_root']} ({seconds:.2f} s)"
    )


@ledger_app.command("checkpoint-keygen")
def checkpoint_keygen() -> None:
    """Print a new checkpoint signing key (set it as RECONSENT_CHECKPOINT_SIGNING_KEY)
    and its public key, base64 and PEM, to publish for auditors."""
    from reconsent.ledger.checkpoint_signing import new_key, public_key_of, public_pem

    key = new_key()
    public = public_key_of(key)
    console.print(f"RECONSENT_CHECKPOINT_SIGNING_KEY={key}")
    console.print(f"public key to publish: {public}")
    console.print(public_pem(public), end="", highlight=False)
