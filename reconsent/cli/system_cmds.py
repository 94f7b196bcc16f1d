"""db, config, channels and portal commands."""

from __future__ import annotations

import typer
from rich.table import Table

from reconsent.cli.context import console, engine, errors, print_json, serve, settings
from reconsent.db import current_revision, make_engine, upgrade
from reconsent.db_roles import grant_runtime_role, runtime_role_of

db_app = typer.Typer(help="The database schema (Alembic migrations).", no_args_is_help=True)
channels_app = typer.Typer(help="Channel adapters and provider settings.", no_args_is_help=True)


@db_app.command("upgrade")
def db_upgrade(
    revision: str = typer.Argument("heads", help="Target revision (default: every head)."),
) -> None:
    """Create or migrate the schema (safe to run again).

    With RECONSENT_DATABASE_OWNER_URL (PostgreSQL): migrate as that owner, then create
    the runtime role of RECONSENT_DATABASE_URL if absent and grant it only what the
    product needs (reconsent/db_roles.py)."""
    cfg = settings()
    owner_url = cfg.database_owner_url.get_secret_value() if cfg.database_owner_url else None
    upgrade(owner_url or cfg.database_url, revision)
    if owner_url:
        role, password = runtime_role_of(cfg.database_url)
        owner = make_engine(owner_url)
        try:
            grant_runtime_role(owner, role, password)
        finally:
            owner.dispose()
        console.print(f"runtime role [bold]{role}[/bold]: granted read and append on the ledger")
    eng = engine(cfg)
    console.print(f"database at revision [bold]{current_revision(eng)}[/bold]")
    eng.dispose()


@db_app.command("current")
def db_current() -> None:
    """Print the schema revision of the database."""
    eng = engine()
    console.print(current_revision(eng) or "(empty: run `reconsent db upgrade`)")
    eng.dispose()


def show_config(as_json: bool = typer.Option(False, "--json", help="Machine-readable.")) -> None:
    """Show the effective settings (secrets masked)."""
    described = settings().describe()
    if as_json:
        print_json(described)
        return
    table = Table("setting", "environment variable", "value")
    for name, value in described.items():
        table.add_row(name, f"RECONSENT_{name.upper()}", value)
    console.print(table)


@channels_app.command("check")
def channels_check(as_json: bool = typer.Option(False, "--json")) -> None:
    """Show which adapter serves each channel and validate its settings; sends nothing.

    Exits 1 with one line per problem on stderr when the configuration is not usable."""
    from reconsent.channel_checks import check_settings
    from reconsent.wiring import describe_adapters

    cfg = settings()
    described = describe_adapters(cfg)
    if as_json:
        print_json(described)
    else:
        table = Table("channel", "adapter")
        for channel, text in described.items():
            table.add_row(channel, text)
        console.print(table)
    problems = check_settings(cfg)
    for problem in problems:
        errors.print(f"problem: {problem}", markup=False, highlight=False, soft_wrap=True)
    if problems:
        raise typer.Exit(1)


def portal(
    host: str = typer.Option("127.0.0.1", help="Interface to bind."),
    port: int = typer.Option(8000, help="Port to listen on."),
    workers: int = typer.Option(1, help="uvicorn worker processes."),
    forwarded_allow_ips: str | None = typer.Option(
        None,
        help="Proxies whose X-Forwarded-For to believe (comma-separated; default: "
        "RECONSENT_PORTAL_FORWARDED_ALLOW_IPS, else none).",
    ),
) -> None:
    """Serve the consent portal and the provider webhooks."""
    from reconsent.web_security import proxy_options

    current = settings()  # fail fast on bad settings
    trusted = (
        current.portal_forwarded_allow_ips if forwarded_allow_ips is None else forwarded_allow_ips
    )
    serve("consent_portal.app:app_from_env", host, port, workers, **proxy_options(trusted))
