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
    ``duplicates`` repeat an earlier row of the same file; ``suppressions`` counts
    the opt-outs of a contacts file newly recorded as suppressions.  Reasons never
    quote names, email addresses or phone numbers.  ``ignored_columns`` names (never
    the values of) the file's columns a mapping left out; ``stopped`` is the fatal
    error that ended the import early, the rows before its line being imported.
    """

    file: str
    read: int = 0
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    duplicates: int = 0
    suppressions: int = 0
    errors: list[RowError] = field(default_factory=list)
    ignored_columns: list[str] = field(default_factory=list)
    stopped: RowError | None = None

    @property
    def changed(self) -> bool:
        return bool(self.created or self.updated or self.suppressions)

    def error(self, line: int, reason: str) -> None:
        self.errors.append(RowError(line, reason))

    def mark(self) -> tuple[int, ...]:
        """The counts now, to :meth:`restore` if a transaction is rolled back."""
        return (
            self.read, self.created, self.updated, self.unchanged, self.duplicates,
            self.suppressions, len(self.errors),
        )  # fmt: skip

    def restore(self, mark: tuple[int, ...]) -> None:
        (
            self.read, self.created, self.updated, self.unchanged, self.duplicates,
            self.suppressions, errors,
        ) = mark  # fmt: skip
        del self.errors[errors:]

    def stop(self, line: int, reason: str) -> None:
        """End at ``line``: what lies from it on was not imported, and is not counted."""
        self.stopped = RowError(line, reason)
        self.errors = sorted((e for e in self.errors if e.line < line), key=lambda e: e.line)
        self.read = (
            self.created + self.updated + self.unchanged + self.duplicates + len(self.errors)
        )

    def summary(self) -> str:
        """One line of counts (no personal data), for logs and the CLI."""
        text = (
            f"{self.file}: read {self.read}, created {self.created}, updated {self.updated}, "
            f"unchanged {self.unchanged}, duplicates {self.duplicates}, errors {len(self.errors)}"
        )
        if self.suppressions:
            text += f", suppressions {self.suppressions}"
        if self.stopped is not None:
            text += f", stopped at line {self.stopped.line}"
        return text
