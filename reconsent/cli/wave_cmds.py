"""Waves: create from TOML, preflight, tick (a Prefect flow run), status."""

from __future__ import annotations

from contextlib import AbstractContextManager, nullcontext
from pathlib import Path
from typing import Any

import typer
from rich.table import Table
from sqlalchemy import select

from reconsent.cli.context import console, parse_time, print_json, session, settings, shown
from reconsent.kernel.clock import SystemClock
from reconsent.kernel.vocab import WaveStatus
from reconsent.kernel.waveconfig import load_wave_config

wave_app = typer.Typer(help="Re-consent waves.", no_args_is_help=True)
WAVE = typer.Argument(..., help="Wave id (see `reconsent wave list`).")
JSON = typer.Option(False, "--json", help="Machine-readable output.")


@wave_app.command("create")
def create(path: Path = typer.Argument(..., help="Wave TOML file.")) -> None:
    """Create a wave from a TOML file and print its id."""
    from reconsent.campaigns.waves import create_wave

    config = load_wave_config(path)
    with session() as s:
        wave = create_wave(s, config, SystemClock().now())
        wave_id = wave.id
    print(wave_id)


@wave_app.command("list")
def list_waves(as_json: bool = JSON) -> None:
    """List waves with their status."""
    from models import Wave

    with session() as s:
        rows = [
            {
                "id": w.id,
                "name": w.name,
                "status": w.status.value,
                "notice": w.notice_version,
                "created_at": w.created_at.isoformat(),
            }
            for w in s.scalars(select(Wave).order_by(Wave.id))
        ]
    if as_json:
        print_json(rows)
        return
    table = Table("id", "name", "status", "notice", "created")
    for r in rows:
        table.add_row(*(shown(str(r[k])) for k in ("id", "name", "status", "notice", "created_at")))
    console.print(table)


@wave_app.command("plan")
def plan(
    wave_id: int = WAVE,
    as_json: bool = JSON,
    at: str | None = typer.Option(None, "--now", help="Evaluate at this ISO time."),
) -> None:
    """Preflight: who would be asked, reachable per channel, and why everybody else is not."""
    from reconsent.campaigns.waves import get_wave
    from reconsent.planning.planner import preflight

    now = parse_time(at) or SystemClock().now()
    with session() as s:
        wave = get_wave(s, wave_id)
        with _working(f"wave {wave_id}: classifying the base..."):
            days = settings().rpo_validity_days
            report = preflight(s, wave, now, rpo_validity_days=days).as_dict()
        report["status"] = wave.status.value
    if as_json:
        print_json(report)
        return
    console.print(
        f"wave {wave_id} ({report['status']}): [bold]{report['eligible_total']}[/bold] "
        f"to ask {report['eligible']}"
    )
    reach = Table("channel", "eligible people reachable")
    for channel, count in report["reachable"].items():
        reach.add_row(channel, str(count))
    console.print(reach)
    excluded = Table("excluded because", "contacts")
    for reason, count in sorted(report["excluded"].items()):
        excluded.add_row(reason, str(count))
    console.print(excluded)


@wave_app.command("tick")
def tick(
    wave_id: int = WAVE,
    at: str | None = typer.Option(None, "--now", help="Pin the clock (ISO time); default now."),
    as_json: bool = JSON,
) -> None:
    """Advance the wave once (one Prefect flow run): plan if new, send, escalate, expire."""
    from flows.wave_tick import wave_tick
    from reconsent.campaigns.waves import get_wave

    with session() as s:  # a wave that does not exist: one line, before Prefect starts
        wave = get_wave(s, wave_id)
        from reconsent.planning.planner import awaits_approval, plan_wave

        if awaits_approval(wave):
            # Its first plan only publishes the preflight: no Prefect run to wait in.
            plan_wave(
                s,
                wave,
                parse_time(at) or SystemClock().now(),
                rpo_validity_days=(settings().rpo_validity_days),
            )
        status = wave.status
    if status is WaveStatus.AWAITING_APPROVAL:
        console.print(
            f"wave {wave_id} awaits the approval of its audience (see `reconsent wave plan "
            f"{wave_id}`): `reconsent wave approve {wave_id} --by NAME` to send",
            soft_wrap=True,
        )
        return
    with _working(f"wave {wave_id}: planning if new, then sending what is due..."):
        result = wave_tick(wave_id, parse_time(at))
    if as_json:
        print_json(result)
        return
    _print_activity(result["activity"])
    _print_funnel(result["funnel"])


def _working(what: str) -> AbstractContextManager[object]:
    """A spinner on a terminal while a long step runs (nothing when output is piped)."""
    return console.status(shown(what)) if console.is_terminal else nullcontext()


@wave_app.command("status")
def status(wave_id: int = WAVE, as_json: bool = JSON) -> None:
    """The funnel per channel and the requests per status."""
    from reconsent.campaigns.funnel import wave_funnel
    from reconsent.campaigns.waves import get_wave

    with session() as s:
        funnel = wave_funnel(s, get_wave(s, wave_id))
    if as_json:
        print_json(funnel)
        return
    _print_funnel(funnel)


def _print_activity(activity: dict[str, dict[str, int]]) -> None:
    done = {k: v for k, v in activity.items() if v}
    console.print(
        "this tick: " + ("; ".join(f"{k} {v}" for k, v in done.items()) or "nothing was due")
    )


def _print_funnel(funnel: dict[str, Any]) -> None:
    console.print(
        f"wave {funnel['wave_id']} [bold]{shown(funnel['name'])}[/bold]: {funnel['status']}"
    )
    columns = [
        "sent", "unknown", "failed", "skipped", "retrying", "in_flight", "confirmed", "refused",
    ]  # fmt: skip
    table = Table("channel", *columns)
    for channel, counts in funnel["channels"].items():
        table.add_row(channel, *[str(counts.get(c, 0)) for c in columns])
    console.print(table)
    console.print("requests: " + ", ".join(f"{k} {v}" for k, v in funnel["requests"].items()))
