"""Entry point: ``reconsent --help``.

User mistakes (``ReconsentError``, a database that was never migrated) end in
one clear line on stderr and exit status 2, never a traceback.
"""

from __future__ import annotations

import os
import sys

import typer
from sqlalchemy.exc import OperationalError, ProgrammingError

from reconsent.cli import (
    api_cmds,
    data_cmds,
    demo_cmd,
    deploy_cmd,
    ledger_cmds,
    proof_cmd,
    receipts_cmd,
    record_cmds,
    retention_cmd,
    rights_cmd,
    system_cmds,
    wave_cmds,
    wave_control_cmds,
    wave_report_cmds,
    webhooks_cmds,
    worker_cmd,
)
from reconsent.cli.context import errors, shown
from reconsent.kernel.errors import ReconsentError

app = typer.Typer(
    name="reconsent",
    help="Multichannel GDPR re-consent campaigns: import, plan, send, escalate, prove.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)
app.add_typer(system_cmds.db_app, name="db")
app.add_typer(data_cmds.catalog_app, name="catalog")
app.add_typer(data_cmds.contacts_app, name="contacts")
app.add_typer(data_cmds.consents_app, name="consents")
app.add_typer(data_cmds.suppressions_app, name="suppressions")
app.add_typer(data_cmds.rpo_app, name="rpo")
wave_control_cmds.register(wave_cmds.wave_app)
wave_report_cmds.register(wave_cmds.wave_app)
app.add_typer(wave_cmds.wave_app, name="wave")
app.add_typer(rights_cmd.rights_app, name="rights")
app.add_typer(retention_cmd.retention_app, name="retention")
app.add_typer(system_cmds.channels_app, name="channels")
app.add_typer(ledger_cmds.ledger_app, name="ledger")
app.add_typer(receipts_cmd.receipts_app, name="receipts")
app.add_typer(webhooks_cmds.webhooks_app, name="webhooks")
app.add_typer(api_cmds.keys_app, name="api-keys")
app.add_typer(record_cmds.record_app, name="record")
app.add_typer(record_cmds.dpia_app, name="dpia")
data_cmds.consents_app.command("export")(api_cmds.consents_export)
app.command("proof")(proof_cmd.proof)
app.command("portal")(system_cmds.portal)
app.command("api")(api_cmds.api)
app.command("config")(system_cmds.show_config)
app.command("demo")(demo_cmd.demo)
app.command("deploy")(deploy_cmd.deploy)
app.command("worker")(worker_cmd.worker)


def main() -> None:
    # The local Prefect server a flow run starts without PREFECT_API_URL sends telemetry
    # to Prefect: offline that logs an error on every run, and a consent tool does not
    # report home unless asked (set it to true to allow).
    os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
    try:
        app()
    except ReconsentError as exc:
        errors.print(f"[red]error:[/red] {shown(str(exc))}", highlight=False, soft_wrap=True)
        sys.exit(2)
    except (OperationalError, ProgrammingError) as exc:
        detail = str(exc.orig).splitlines()[0] if exc.orig else type(exc).__name__
        errors.print(
            f"[red]database error:[/red] {detail} (is RECONSENT_DATABASE_URL right, "
            "and did you run `reconsent db upgrade`?)",
            highlight=False,
        )
        sys.exit(2)


if __name__ == "__main__":
    main()
