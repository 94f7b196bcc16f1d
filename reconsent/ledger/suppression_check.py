"""The suppression list against its own history (``suppression_log``, trigger-written).

The gate trusts ``suppressions`` and ``suppression_lifts``; an insider who
removed a suppression behind the triggers (owner rights, triggers disabled),
slipped a lift in, or rewrote either would change who is contacted. Both are
append-only, so the check is exact: every suppression is one the log says was
added, with the same fields; every lift is one the log says was lifted, with the
same source; nothing the log holds is missing from either.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Engine, select

from models import Suppression, SuppressionLift, SuppressionLogEntry

__all__ = ["verify_suppressions"]


def _key(row: Any) -> tuple[Any, ...]:
    channel = getattr(row.channel, "value", row.channel)
    reason = getattr(row.reason, "value", row.reason)
    return (row.contact_id, row.address_hash, channel, reason, row.source)


def verify_suppressions(engine: Engine) -> list[str]:
    """Every difference between the list, its lifts and its log, naming the suppression."""
    log = SuppressionLogEntry
    added: dict[int, tuple[Any, ...]] = {}
    lifted: dict[int, str] = {}
    with engine.connect() as conn:
        for entry in conn.execute(select(log).order_by(log.id)):
            if entry.action == "added":
                added[entry.suppression_id] = _key(entry)
            else:
                lifted[entry.suppression_id] = entry.source
        listed = {row.id: _key(row) for row in conn.execute(select(Suppression))}
        lifts = {
            row.suppression_id: row.source
            for row in conn.execute(select(SuppressionLift.suppression_id, SuppressionLift.source))
        }
    breaks: list[str] = []
    for sid, fields in sorted(listed.items()):
        logged = added.get(sid)
        if logged is None:
            breaks.append(f"suppression {sid}: in the list but never added per the log")
        elif logged != fields:
            breaks.append(f"suppression {sid}: differs from what the log recorded")
    for sid in sorted(set(added) - set(listed)):
        breaks.append(f"suppression {sid}: removed from the list (the log added it)")
    for sid, source in sorted(lifts.items()):
        if sid not in lifted:
            breaks.append(f"suppression {sid}: lifted, but the log records no lift")
        elif lifted[sid] != source:
            breaks.append(f"suppression {sid}: its lift differs from what the log recorded")
    for sid in sorted(set(lifted) - set(lifts)):
        breaks.append(f"suppression {sid}: the log records a lift that is gone (back in force)")
    return breaks
