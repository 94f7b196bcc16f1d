"""What an import did: counts and the rows it refused, by line number."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class RowError:
    """A refused row: ``line`` is the file's line number (the header is line 1)."""

    line: int
    reason: str


@dataclass
class ImportReport:
    """Counts of one import; ``read`` = created + updated + unchanged + duplicates + errors.

    ``unchanged`` rows were already in the database (a re-import changes nothing);
    ``duplicates`` repeat an earlier row of the same file.  Reasons never quote
    names, email addresses or phone numbers.
    """

    file: str
    read: int = 0
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    duplicates: int = 0
    errors: list[RowError] = field(default_factory=list)

    @property
    def changed(self) -> bool:
        return bool(self.created or self.updated)

    def error(self, line: int, reason: str) -> None:
        self.errors.append(RowError(line, reason))

    def summary(self) -> str:
        """One line of counts (no personal data), for logs and the CLI."""
        return (
            f"{self.file}: read {self.read}, created {self.created}, updated {self.updated}, "
            f"unchanged {self.unchanged}, duplicates {self.duplicates}, errors {len(self.errors)}"
        )
