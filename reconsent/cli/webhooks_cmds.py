"""``reconsent webhooks``: tell the CRM what changed (signed, retried, replayable).

Endpoints (``add``, ``list``, ``disable``/``enable``, ``remove``,
``rotate-secret``), the delivery worker (``deliver``), what was delivered
(``deliveries``) and sending again (``replay``). See the README's "CRM webhooks".
"""

from __future__ import annotations

import time
from datetime import timedelta

import typer
from rich.table import Table

from reconsent.cli.context import console, engine, errors, parse_time, print_json, session, settings
from reconsent.kernel.clock import SystemClock

webhooks_app = typer.Typer(
    help="Outbound webhooks to the CRM: consent changes, objections, rights requests.",
    no_args_is_help=True,
)


@webhooks_app.command("add")
def add(
    url: str = typer.Argument(..., help="The CRM's receiving URL (https)."),
    events: str = typer.Option(
        ...,
        "--events",
        help="Comma-separated event types, globs allowed: "
        "consent.changed,objection.recorded,rights.request.*",
    ),
) -> None:
    """Add an endpoint; its signing secret is printed once, here, and never again."""
    from reconsent.crm_webhooks.endpoint_admin import add_endpoint
    from reconsent.crm_webhooks.secret_box import SecretBox

    box = SecretBox(settings().crm_webhook_key())
    with session() as s:
        endpoint, secret = add_endpoint(s, url, events, box, SystemClock().now())
        endpoint_id, subscribed = endpoint.id, endpoint.events
    print(f"webhook endpoint {endpoint_id}: {url} ({subscribed})")
    print(f"signing secret (shown once, store it in the CRM now): {secret}")


@webhooks_app.command("list")
def list_endpoints(
    as_json: bool = typer.Option(False, "--json", help="Machine-readable."),
) -> None:
    """Endpoints, their events and state, deliveries per state; secrets masked."""
    from reconsent.crm_webhooks.endpoint_admin import endpoint_rows

    with session() as s:
        rows = endpoint_rows(s)
    if as_json:
        print_json(rows)
        return
    table = Table("id", "url", "events", "state", "secret", "deliveries")
    for r in rows:
        counts = ", ".join(f"{k} {v}" for k, v in sorted(r["deliveries"].items())) or "-"
        events = ",".join(r["events"])
        table.add_row(str(r["id"]), r["url"], events, r["state"], r["secret"], counts)
    console.print(table)


def _pause(endpoint_id: int, paused: bool) -> None:
    from reconsent.crm_webhooks.endpoint_admin import set_paused

    with session() as s:
        state = set_paused(s, endpoint_id, paused=paused, now=SystemClock().now()).state.value
    print(f"webhook endpoint {endpoint_id}: {state}")


@webhooks_app.command("disable")
def disable(endpoint_id: int = typer.Argument(..., help="Endpoint id.")) -> None:
    """Pause an endpoint: its deliveries are still queued, none is sent until `enable`."""
    _pause(endpoint_id, True)


@webhooks_app.command("enable")
def enable(endpoint_id: int = typer.Argument(..., help="Endpoint id.")) -> None:
    """Resume a paused endpoint (what was queued meanwhile goes out, in order)."""
    _pause(endpoint_id, False)


@webhooks_app.command("remove")
def remove(endpoint_id: int = typer.Argument(..., help="Endpoint id.")) -> None:
    """Stop an endpoint for good: secret wiped, unsent deliveries cancelled."""
    from reconsent.crm_webhooks.endpoint_admin import remove_endpoint

    with session() as s:
        cancelled = remove_endpoint(s, endpoint_id, SystemClock().now())
    print(f"webhook endpoint {endpoint_id}: removed ({cancelled} unsent deliveries cancelled)")


@webhooks_app.command("rotate-secret")
def rotate(
    endpoint_id: int = typer.Argument(..., help="Endpoint id."),
    grace_hours: float = typer.Option(
        24.0, help="Hours the old secret also signs (0: the new one alone, at once)."
    ),
) -> None:
    """A new signing secret, printed once; the old one also signs for --grace-hours."""
    from reconsent.crm_webhooks.endpoint_admin import rotate_secret
    from reconsent.crm_webhooks.secret_box import SecretBox

    box = SecretBox(settings().crm_webhook_key())
    with session() as s:
        secret = rotate_secret(
            s, endpoint_id, box, SystemClock().now(), timedelta(hours=max(0.0, grace_hours))
        )
    print(f"new signing secret of endpoint {endpoint_id} (shown once): {secret}")


@webhooks_app.command("deliver")
def deliver(
    once: bool = typer.Option(False, "--once", help="Drain what is due now, then exit."),
    poll: float = typer.Option(5.0, help="Without --once: seconds between two drains."),
) -> None:
    """The delivery worker: send due deliveries (run several: none is sent twice)."""
    from reconsent.crm_webhooks.delivery_worker import drain_with_settings

    cfg = settings()
    eng = engine(cfg)
    try:
        while True:
            report = drain_with_settings(eng, cfg, SystemClock())
            if once or report.tries:
                errors.print(
                    f"delivered {report.delivered}, retrying {report.retrying}, "
                    f"failed {report.failed}, held {report.held}",
                    highlight=False,
                )
            if once:
                return
            time.sleep(poll)
    except KeyboardInterrupt:
        return
    finally:
        eng.dispose()


@webhooks_app.command("deliveries")
def deliveries(
    endpoint: int | None = typer.Option(None, "--endpoint", help="Only this endpoint's."),
    state: str | None = typer.Option(
        None, "--state", help="pending, delivering, delivered, failed or cancelled."
    ),
    limit: int = typer.Option(100, help="How many, newest first."),
    as_json: bool = typer.Option(False, "--json", help="Machine-readable."),
) -> None:
    """Deliveries with their state, tries and last answer (no payload is shown)."""
    from reconsent.crm_webhooks.delivery_log import delivery_rows

    with session() as s:
        rows = delivery_rows(s, endpoint_id=endpoint, state=state, limit=limit)
    if as_json:
        print_json(rows)
        return
    table = Table("id", "endpoint", "event", "state", "tries", "last answer", "next try", "created")
    for r in rows:
        table.add_row(
            str(r["id"]),
            str(r["endpoint_id"]),
            r["event_type"],
            r["state"],
            str(r["attempts"]),
            r["last_error"] or (str(r["last_status"]) if r["last_status"] else "-"),
            (r["next_attempt_at"] or "-")[:19],
            r["created_at"][:19],
        )
    console.print(table)


@webhooks_app.command("replay")
def replay(
    delivery_id: int | None = typer.Argument(None, help="One delivery id."),
    since: str | None = typer.Option(None, help="Every delivery written since (ISO 8601)."),
    endpoint: int | None = typer.Option(None, "--endpoint", help="With --since: one endpoint."),
) -> None:
    """Queue deliveries again (same webhook-id: a receiver that had one dedupes it)."""
    from reconsent.crm_webhooks.delivery_log import replay as requeue

    with session() as s:
        count = requeue(
            s,
            SystemClock().now(),
            delivery_id=delivery_id,
            since=parse_time(since),
            endpoint_id=endpoint,
        )
    print(f"{count} deliveries queued again")
