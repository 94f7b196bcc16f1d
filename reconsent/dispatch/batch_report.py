"""What one dispatch batch did: aggregate counts only, safe for logs and artifacts."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

_GROUPS = ("sent", "skipped", "retrying", "failed", "closed", "waiting")


@dataclass
class BatchReport:
    """Aggregate counts only: safe for logs and Prefect artifacts."""

    sent: Counter[str] = field(default_factory=Counter)
    skipped: Counter[str] = field(default_factory=Counter)
    retrying: Counter[str] = field(default_factory=Counter)
    failed: Counter[str] = field(default_factory=Counter)
    closed: Counter[str] = field(default_factory=Counter)
    waiting: Counter[str] = field(default_factory=Counter)

    @classmethod
    def from_dict(cls, counts: dict[str, dict[str, int]]) -> BatchReport:
        """The report :meth:`as_dict` made (a Prefect task's result)."""
        report = cls()
        for name in _GROUPS:
            getattr(report, name).update(counts.get(name, {}))
        return report

    def merge(self, other: BatchReport) -> None:
        for name in _GROUPS:
            getattr(self, name).update(getattr(other, name))

    def as_dict(self) -> dict[str, dict[str, int]]:
        return {name: dict(getattr(self, name)) for name in _GROUPS}
