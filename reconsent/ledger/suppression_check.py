"""The suppression list against its own history (``suppression_log``, trigger-written).

The gate trusts ``suppressions``; an insider who removed a row behind the
triggers (owner rights, triggers disabled) or slipped one in would change who
is contacted. Each row must be one the log says was added and never lifted,
with the same fields; each suppression the log says is in force must be there.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Engine, select

from models import Suppression, SuppressionLogEntry

__all__ = ["verify_suppressions"]


def _key(row: Any) -> tuple[Any, ...]:
    channel = getattr(row.channel, "value", row.channel)
    reason = getattr(row.reason, "value", row.reason)
    return (row.contact_id, row.address_hash, channel, reason, row.source)


def verify_suppressions(engine: Engine) -> list[str]:
    """Every difference between the list and its log, naming the suppression."""
    log = SuppressionLogEntry
    in_force: dict[int, tuple[Any, ...]] = {}
    with engine.connect() as conn:
        for entry in conn.execute(select(log).order_by(log.id)):
            if entry.action == "added":
                in_force[entry.suppression_id] = _key(entry)
            else:
                in_force.pop(entry.suppression_id, None)
        listed = {row.id: _key(row) for row in conn.execute(select(Suppression))}
    breaks: list[str] = []
    for sid, fields in sorted(listed.items()):
        logged = in_force.get(sid)
        if logged is None:
            breaks.append(f"suppression {sid}: in the list but never added (or lifted) per the log")
        elif logged != fields:
            breaks.append(f"suppression {sid}: differs from what the log recorded")
    for sid in sorted(set(in_force) - set(listed)):
        breaks.append(f"suppression {sid}: removed from the list without a lift in the log")
    return breaks
