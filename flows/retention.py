"""The scheduled retention run: minimise whom the policy no longer lets us keep.

``apply-retention/daily`` (``reconsent deploy``) runs it once a day; "Custom run"
in the UI takes ``dry_run`` to see the counts first. The artifact and the logs
hold counts only (people minimised by reason, evidence keys shredded).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from prefect import flow, get_run_logger, task
from prefect.artifacts import create_markdown_artifact

from reconsent.retention.minimisation import run_retention
from reconsent.wiring import get_runtime


@task(name="minimise-due-people")
def minimise_task(dry_run: bool, at: datetime) -> dict[str, Any]:
    runtime = get_runtime()
    return run_retention(runtime.engine, runtime.settings, at, dry_run=dry_run).as_dict()


def _markdown(report: dict[str, Any]) -> str:
    minimised = "\n".join(f"| minimised: {r} | {n} |" for r, n in report["minimised"].items())
    kept = "\n".join(f"| kept: {r} | {n} |" for r, n in report["kept"].items())
    return (
        f"# Retention{' (dry run: nothing changed)' if report['dry_run'] else ''}\n\n"
        f"{report['considered']} people considered; minimised "
        f"**{report['minimised_total']}**; evidence keys shredded: "
        f"**{report['evidence_keys_shredded']}**; address hashes kept for the suppression "
        f"list: {report['addresses_suppressed']}; old one-time code challenges deleted: "
        f"{report['codes_deleted']}\n\n"
        f"| | people |\n|---|---|\n{minimised or '| minimised | 0 |'}\n{kept}\n"
    )


@flow(name="apply-retention", log_prints=False)
def apply_retention_flow(dry_run: bool = False, at: datetime | None = None) -> dict[str, Any]:
    """Reduce everyone past every retention limit to their suppression hashes and shred
    their identifying evidence (``reconsent retention apply``); ``at``: the time the
    policy is applied at (default now)."""
    report = minimise_task(dry_run, at or datetime.now(UTC))
    create_markdown_artifact(
        key="retention-report", markdown=_markdown(report), description="Retention counts"
    )
    get_run_logger().info(
        "retention%s: %d minimised, %d evidence keys shredded",
        " (dry run)" if dry_run else "",
        report["minimised_total"],
        report["evidence_keys_shredded"],
    )
    return report
