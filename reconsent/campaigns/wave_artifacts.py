"""What a tick publishes to the Prefect UI, as plain text built from counts: the
preflight (eligible per basis, reachable per channel, excluded per reason) as tables,
this tick's activity, and the wave's report; under keys that name the wave and the
database (two databases on one Prefect server never share a key)."""

from __future__ import annotations

import hashlib
import re
import unicodedata
from typing import Any

from reconsent.campaigns.wave_report import render_markdown
from reconsent.kernel.url_masking import mask_url_passwords

__all__ = ["artifact_key", "database_tag", "tick_markdown"]


def artifact_key(wave_id: int, name: str, database_url: str, kind: str) -> str:
    """``<name-slug>-w<id>-<database tag>-<kind>``: lowercase letters, digits and dashes
    (what Prefect accepts); the tag is a digest of the database's address."""
    ascii_name = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode()
    slug = re.sub(r"[^a-z0-9]+", "-", ascii_name.lower()).strip("-")[:40].strip("-")
    return f"{slug or 'wave'}-w{wave_id}-{database_tag(database_url)}-{kind}"


def database_tag(database_url: str) -> str:
    """Six hex digits of the database's address (its password masked): which database."""
    return hashlib.sha256(mask_url_passwords(database_url).encode()).hexdigest()[:6]


def _rows(title: str, counts: dict[str, Any]) -> list[str]:
    lines = [f"| {title} | contacts |", "|---|---|"]
    lines += [f"| {key} | {value} |" for key, value in sorted(counts.items())]
    return lines if counts else [*lines, "| (none) | 0 |"]


def tick_markdown(
    plan: dict[str, Any],
    activity: dict[str, dict[str, int]],
    report: dict[str, Any],
    *,
    dry_run: bool,
    title: str,
) -> str:
    """The markdown artifact of one tick (``title``: the wave, already escaped)."""
    lines = [
        f"# {title}{' (dry run)' if dry_run else ''}",
        "",
        f"Status **{report['status'].replace('_', ' ')}**; eligible "
        f"**{plan.get('eligible_total', 0)}**.",
        "",
        *_rows("eligible on the basis of", plan.get("eligible", {})),
        "",
        *_rows("reachable on", plan.get("reachable", {})),
        "",
        *_rows("excluded because", plan.get("excluded", {})),
        "",
        "## This tick",
        "",
    ]
    done = {(group, key): n for group, counts in activity.items() for key, n in counts.items() if n}
    if done:
        lines += ["| what | channel or reason | count |", "|---|---|---|"]
        lines += [f"| {group} | {key} | {n} |" for (group, key), n in sorted(done.items())]
    else:
        lines.append("Nothing was due.")
    report_text = render_markdown(report, title="Report")
    return "\n".join(lines) + "\n\n" + report_text.replace("# Report", "## Report", 1)
