"""The operator API: ``reconsent api``, ``api-keys ...`` and ``consents export``."""

from __future__ import annotations

import sys
from datetime import UTC, datetime

import typer
from rich.table import Table

from reconsent.cli.context import console, engine, print_json, serve, session
from reconsent.kernel.errors import ConfigError
from reconsent.operators.api_keys import SCOPES, create_key, list_keys, revoke_key, rotate_key
from reconsent.operators.consent_changes import changes_since, to_csv, to_jsonl

keys_app = typer.Typer(help="Keys of the operator API (`reconsent api`).", no_args_is_help=True)

#: One page of the export at a time (the command follows the cursor to the end).
EXPORT_PAGE = 5_000


def api(
    host: str = typer.Option("127.0.0.1", help="Interface to bind."),
    port: int = typer.Option(8100, help="Port to listen on."),
    workers: int = typer.Option(1, help="uvicorn worker processes."),
) -> None:
    """Serve the operator API (contactability, operator capture, changes) under /api/v1."""
    serve("operator_api.app:app_from_env", host, port, workers)


def _now() -> datetime:
    return datetime.now(UTC)


@keys_app.command("create")
def keys_create(
    name: str = typer.Argument(..., help="Who uses the key, e.g. dialler-milano."),
    scopes: str = typer.Option(..., help=f"Comma-separated among: {', '.join(SCOPES)}."),
) -> None:
    """Make a key; it is printed once and never stored (only its SHA-256)."""
    with session() as s:
        issued = create_key(s, name, scopes, _now())
    console.print(f"key {issued.id} ({issued.name}): {', '.join(issued.scopes)}")
    console.print("store it now, it is not shown again:")
    print(issued.key)


@keys_app.command("list")
def keys_list(as_json: bool = typer.Option(False, "--json")) -> None:
    """Every key (never a secret): id, name, prefix, scopes, created, revoked."""
    with session() as s:
        rows = [
            {
                "id": k.id,
                "name": k.name,
                "prefix": f"rk_{k.prefix}",
                "scopes": k.scopes,
                "created_at": k.created_at.isoformat(),
                "revoked_at": k.revoked_at.isoformat() if k.revoked_at else None,
            }
            for k in list_keys(s)
        ]
    if as_json:
        print_json(rows)
        return
    table = Table("id", "name", "prefix", "scopes", "created", "revoked")
    for row in rows:
        table.add_row(
            *(
                str(row[c] or "")
                for c in ("id", "name", "prefix", "scopes", "created_at", "revoked_at")
            )
        )
    console.print(table)


@keys_app.command("revoke")
def keys_revoke(ref: str = typer.Argument(..., help="The key's id, prefix or name.")) -> None:
    """Refuse a key from now on (within api_key_cache_seconds in running processes)."""
    with session() as s:
        key = revoke_key(s, ref, _now())
        console.print(f"key {key.id} ({key.name}) revoked")


@keys_app.command("rotate")
def keys_rotate(ref: str = typer.Argument(..., help="The key's id, prefix or name.")) -> None:
    """A new key with the same name and scopes; the old one is revoked at once."""
    with session() as s:
        issued = rotate_key(s, ref, _now())
    console.print(f"key {issued.id} ({issued.name}) replaces the old one, now revoked:")
    print(issued.key)


def consents_export(
    since: int = typer.Option(0, help="The cursor of the last change applied (0: all)."),
    fmt: str = typer.Option("jsonl", "--format", help="csv or jsonl."),
) -> None:
    """Every consent change after a cursor, to stdout; the next cursor on stderr."""
    if fmt not in ("csv", "jsonl"):
        raise ConfigError("--format is csv or jsonl")
    eng = engine()
    cursor, header = since, True
    try:
        while True:
            page = changes_since(eng, cursor, EXPORT_PAGE)
            out = to_csv(page.changes, header) if fmt == "csv" else to_jsonl(page.changes)
            sys.stdout.write(out)
            header = False
            cursor = page.next_cursor
            if len(page.changes) < EXPORT_PAGE:
                break
    finally:
        eng.dispose()
    print(f"next cursor: {cursor}", file=sys.stderr)
