"""``reconsent wave pause|resume|cancel|approve|decline|edit|promote|clone|history``:
an operator's controls over a wave, each one kept in the wave's audit."""

from __future__ import annotations

import json
from typing import Any

import typer
from rich.table import Table

from reconsent.cli.context import console, print_json, session, shown
from reconsent.kernel.clock import SystemClock
from reconsent.kernel.errors import ConfigError
from reconsent.kernel.vocab import WaveAction

WAVE = typer.Argument(..., help="Wave id (see `reconsent wave list`).")
BY = typer.Option(..., "--by", help="Who decides (kept in the wave's audit).")
NOTE = typer.Option("", "--note", "--reason", help="Why (kept in the wave's audit).")


def _control(
    wave_id: int, action: WaveAction, by: str, note: str, changes: dict[str, Any] | None = None
) -> None:
    from reconsent.campaigns.wave_controls import control_wave

    with session() as s:
        event = control_wave(
            s, wave_id, action, actor=by, now=SystemClock().now(), note=note, changes=changes
        )
        details = dict(event.details)
    line = f"wave {wave_id}: {details['from']} -> {details['to']}"
    if "requests_closed" in details:
        line += f"; {details['requests_closed']} open request(s) closed"
    for path, change in details.get("changes", {}).items():
        line += f"; {path}: {change['old']} -> {change['new']}"
    console.print(shown(line))


def pause(wave_id: int = WAVE, by: str = BY, note: str = NOTE) -> None:
    """Stop sending: no tick plans or sends for the wave until it is resumed."""
    _control(wave_id, WaveAction.PAUSE, by, note)


def resume(wave_id: int = WAVE, by: str = BY, note: str = NOTE) -> None:
    """Go on where the wave was paused (what fell due meanwhile goes at the next tick)."""
    _control(wave_id, WaveAction.RESUME, by, note)


def cancel(wave_id: int = WAVE, by: str = BY, note: str = NOTE) -> None:
    """End the wave: every open request is closed (reason wave_cancelled); nothing more
    is sent. Answers already given stay recorded."""
    _control(wave_id, WaveAction.CANCEL, by, note)


def approve(
    wave_id: int = WAVE,
    by: str = BY,
    note: str = NOTE,
    decline: bool = typer.Option(False, "--decline", help="Refuse the audience: cancel."),
) -> None:
    """Approve the audience of a wave awaiting approval (see `wave plan`); the next
    tick sends. Once per wave: a second answer is refused."""
    _control(wave_id, WaveAction.DECLINE if decline else WaveAction.APPROVE, by, note)


def edit(
    wave_id: int = WAVE,
    values: list[str] = typer.Option(
        ...,
        "--set",
        help="PATH=VALUE, e.g. steps.0.wait=3d, daily_cap.sms=500, link_lifetime=7d, "
        'frequency_cap={"max_requests": 2, "days": 60} (VALUE read as JSON when it is JSON).',
    ),
    by: str = BY,
    note: str = NOTE,
) -> None:
    """Change waits, caps, link lifetime or quiet hours of a wave not finished: checked
    as a whole wave file is, kept with the old values in the audit. A new wait counts
    for the messages sent after the edit."""
    changes: dict[str, Any] = {}
    for item in values:
        path, sep, raw = item.partition("=")
        if not sep or not path:
            raise ConfigError(f"--set {item!r}: use PATH=VALUE, e.g. steps.0.wait=3d")
        try:
            changes[path.strip()] = json.loads(raw)
        except json.JSONDecodeError:
            changes[path.strip()] = raw
    _control(wave_id, WaveAction.EDIT, by, note, changes)


def promote(wave_id: int = WAVE, by: str = BY, note: str = NOTE) -> None:
    """Turn a planned dry run into a wave that sends (planned again at the next tick,
    for the people eligible then)."""
    _control(wave_id, WaveAction.PROMOTE, by, note)


def clone(
    wave_id: int = WAVE,
    name: str | None = typer.Option(None, "--name", help="Default: '<name> (copy)'."),
) -> None:
    """A new draft wave with the same configuration; prints its id."""
    from reconsent.campaigns.wave_controls import clone_wave

    with session() as s:
        new_id = clone_wave(s, wave_id, now=SystemClock().now(), name=name).id
    print(new_id)


def history(
    wave_id: int = WAVE, as_json: bool = typer.Option(False, "--json", help="Machine-readable.")
) -> None:
    """The wave's audit: every pause, resume, cancel, approval, edit, promotion."""
    from reconsent.campaigns.wave_controls import wave_history

    with session() as s:
        rows = wave_history(s, wave_id)
    if as_json:
        print_json(rows)
        return
    table = Table("at", "action", "by", "status", "details")
    for r in rows:
        rest = {k: v for k, v in r.items() if k not in ("at", "action", "by", "from", "to")}
        table.add_row(
            r["at"][:19],
            r["action"],
            shown(r["by"]),
            f"{r['from']} -> {r['to']}",
            shown(json.dumps(rest, ensure_ascii=False)) if rest else "",
        )
    console.print(table)


def register(app: typer.Typer) -> None:
    for command in (pause, resume, cancel, approve, edit, promote, clone, history):
        app.command(command.__name__)(command)
