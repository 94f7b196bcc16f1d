"""``reconsent demo``: the product's main job on a sample base, end to end."""

from __future__ import annotations

from pathlib import Path

import typer
from rich.table import Table

from reconsent.cli.context import console
from reconsent.dev.demo.runner import Providers


def demo(
    directory: Path = typer.Option(Path("demo-data"), "--dir", help="Working folder (recreated)."),
    contacts: int = typer.Option(1000, min=10, max=200_000, help="Size of the sample base."),
    seed: int = typer.Option(7, help="Seed of the sample base and of the customers' behaviour."),
    providers: Providers = typer.Option(
        Providers.OUTBOX,
        help="outbox: messages become files; emulated: the real SendGrid and Twilio SDKs "
        "against emulated providers on 127.0.0.1, whose signed callbacks reach the portal.",
    ),
) -> None:
    """Import a sample base, run an email -> SMS -> IVR wave, let simulated customers
    answer through the real portal, and print the funnel."""
    from reconsent.dev.demo.runner import DemoOptions, run_demo

    result = run_demo(
        DemoOptions(directory, contacts, seed, providers),
        lambda text: console.print(text, highlight=False),
    )
    funnel = result["funnel"]
    console.print("[6/6] result")
    columns = ["sent", "unknown", "failed", "skipped", "confirmed", "refused"]
    table = Table("channel", *columns, title=f"wave {result['wave_id']}: {funnel['name']}")
    for channel, counts in funnel["channels"].items():
        table.add_row(channel, *[str(counts.get(c, 0)) for c in columns])
    console.print(table)
    console.print("requests: " + ", ".join(f"{k} {v}" for k, v in funnel["requests"].items() if v))
    console.print(
        "preflight exclusions: "
        + ", ".join(f"{k} {v}" for k, v in sorted(funnel["plan"].get("excluded", {}).items()))
    )
    plan = funnel["plan"]
    console.print(
        "preflight, eligible by basis: "
        + ", ".join(f"{k} {v}" for k, v in sorted(plan.get("eligible", {}).items()))
        + "; reachable per channel: "
        + ", ".join(f"{k} {v}" for k, v in plan.get("reachable", {}).items())
    )
    for channel, skips in plan.get("channel_skips", {}).items():
        console.print(
            f"  {channel} skipped for: "
            + ", ".join(f"{k} {v}" for k, v in sorted(skips.items()))
            + ("  (no SMS or call without a consent to that channel)" if channel != "email" else "")
        )
    console.print(
        "what the simulated customers did: "
        + ", ".join(f"{k} {v}" for k, v in result["customers"].items())
    )
    from reconsent.cli.retention_cmd import print_report

    console.print("\nRetention on the demo base (reconsent retention apply --dry-run, then apply):")
    for report in result["retention"]:
        print_report(report)
    db = (directory / "reconsent.db").resolve()
    console.print(f"\nDone in {result['seconds']} s. Where to look:")
    if result["outbox"]:
        console.print(f"  outbox (what customers received): {result['outbox']}/", soft_wrap=True)
    else:
        console.print(
            "  provider callbacks posted to the portal: "
            + ", ".join(f"{k} {v}" for k, v in result["callbacks"].items()),
            soft_wrap=True,
        )
    # The demo's data directory holds the keys its hashes and links were made with: a
    # command run without it would generate other keys (and be refused by the database).
    env = (
        f"RECONSENT_DATABASE_URL=sqlite:///{db} "
        f"RECONSENT_DATA_DIR={(directory / 'var').resolve()} RECONSENT_DEV_KEYS=true"
    )
    console.print(
        f"  the funnel again:   {env} reconsent wave status {result['wave_id']}", soft_wrap=True
    )
    console.print(f"  one person's proof: {env} reconsent proof <external_id>", soft_wrap=True)
    console.print(f"  the DPO's record and DPIA draft: {result['dpo_documents']}/", soft_wrap=True)
    if result.get("proof_example"):
        from reconsent.cli.context import session
        from reconsent.cli.proof_cmd import print_proof
        from reconsent.ledger.proof import contact_proof

        console.print(
            f"\nThe proof of one person who answered (reconsent proof {result['proof_example']}):"
        )
        from reconsent.cli.context import settings

        with session() as s:
            key = settings().evidence_wrapping_key()
            print_proof(contact_proof(s, result["proof_example"], key))
