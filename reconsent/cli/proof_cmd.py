"""``reconsent proof``: everything one person agreed to, when, how and under which notice."""

from __future__ import annotations

from typing import Any

import typer
from rich.table import Table

from reconsent.cli.context import console, print_json, session, settings
from reconsent.ledger.proof import contact_proof


def proof(
    external_id: str = typer.Argument(..., help="The contact's id in your CRM."),
    as_json: bool = typer.Option(False, "--json", help="Machine-readable history."),
) -> None:
    """Show the full consent history of one person and their current state per purpose."""
    cfg = settings()
    # Without the evidence key the sealed evidence shows as sealed (the proof still works).
    key = cfg.evidence_wrapping_key() if cfg.evidence_key is not None or cfg.dev_keys else None
    with session(cfg) as s:
        data = contact_proof(s, external_id, key)
    if as_json:
        from reconsent.cli.receipts_cmd import receipt_for, receipts_for

        print_json(
            {**data, "receipts": receipts_for(external_id), "receipt": receipt_for(external_id)}
        )
        return
    print_proof(data)


def print_proof(data: dict[str, Any]) -> None:
    console.print(
        f"contact [bold]{data['external_id']}[/bold] (subject {data['subject_id']}), "
        f"locale {data['locale']}"
    )
    current = Table("purpose", "state", "since", "expires", "notice", "provable")
    for row in data["current"]:
        current.add_row(
            row["purpose"],
            row["state"],
            row["occurred_at"],
            row["expires_at"] or "-",
            row["notice_version"] or "-",
            "yes" if row["provable"] else "no",
        )
    console.print(current)
    history = Table(
        "when", "purpose", "state", "method", "channel", "controller", "notice", "wave", "evidence"
    )
    for ev in data["events"]:
        evidence = ", ".join(f"{k}={v}" for k, v in ev["evidence"].items() if k != "ip")
        history.add_row(
            ev["occurred_at"],
            ev["purpose"],
            ev["state"],
            ev["method"],
            ev["channel"] or "-",
            ev["controller"],  # as recorded with the event, not today's settings
            ev["notice_version"] or "-",
            str(ev["wave_id"] or "-"),
            evidence[:60],
        )
    console.print(history)
    if data.get("evidence_shredded"):
        console.print(
            "evidence shredded: this person's identifying evidence (IP, user agent, call and "
            "message ids) was crypto-shredded; the events and their hashes remain"
        )
    if data["suppressions"]:
        console.print(
            "suppressed: "
            + "; ".join(
                f"{s['reason']} on {s['channel'] or 'every channel'} since {s['created_at']}"
                + (f" (lifted {s['lifted_at']})" if s["lifted_at"] else "")
                for s in data["suppressions"]
            )
        )
