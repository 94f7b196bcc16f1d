"""Every exception class of reconsent, in one tree.

Two families:

* :class:`ReconsentError` and its subclasses: a problem the user or operator
  can act on, described in ``str(err)``; the CLI prints it on one line and
  exits non-zero, never a traceback.
* :class:`AddressError` and :class:`InvalidRowError`: ``ValueError``\\ s of the
  pure parsers (addresses, CSV rows); their callers catch them and report the
  row or field, so they never reach a user as such.

No other module defines an exception class.
"""

from __future__ import annotations

__all__ = [
    "AddressError",
    "BadLink",
    "ChannelConfigError",
    "CheckpointError",
    "ConfigError",
    "ConflictError",
    "DecisionError",
    "ExpiredLink",
    "ImmutableError",
    "ImportStopped",
    "InvalidRowError",
    "LinkError",
    "NotFoundError",
    "ReconsentError",
    "SmsTooLongError",
]


class ReconsentError(Exception):
    """Base class: a problem the user can act on, described in ``str(err)``."""


class ConfigError(ReconsentError):
    """Settings, a wave config or a catalog file is invalid."""


class ChannelConfigError(ConfigError):
    """A provider rejected our credentials or sender: fix the settings, then resume.

    Carries the provider and its status/code (never a recipient).
    """

    def __init__(
        self, message: str, *, provider: str, status: int | None = None, code: int | None = None
    ) -> None:
        super().__init__(message)
        self.provider = provider
        self.status = status
        self.code = code


class SmsTooLongError(ChannelConfigError):
    """The SMS text of a wave/locale does not fit the configured segment budget."""

    def __init__(self, message: str, *, segments: int, max_segments: int) -> None:
        super().__init__(message, provider="render")
        self.segments = segments
        self.max_segments = max_segments


class ImportStopped(ConfigError):
    """An import could not go past a line (undecodable bytes, a broken quote, the
    database refusing a row): every row before it was imported and committed.

    ``line`` is that physical line of the file (the header is line 1); ``report``
    is the importer's report of what it did before (an ``ImportReport``).
    """

    def __init__(self, message: str, *, line: int, report: object = None) -> None:
        super().__init__(message)
        self.line = line
        self.report = report


class ConflictError(ReconsentError):
    """A request conflicts with what is recorded: an ``Idempotency-Key`` reused with
    another body, an address several contacts share where one must be named."""


class NotFoundError(ReconsentError):
    """A wave, contact, purpose or notice named by the user does not exist."""


class ImmutableError(ReconsentError):
    """Something tried to change a published notice or a recorded event."""


class LinkError(ReconsentError):
    """A signed link is tampered with (``BadLink``) or too old (``ExpiredLink``)."""


class BadLink(LinkError):
    pass


class ExpiredLink(LinkError):
    def __init__(self, message: str, request_id: int | None = None) -> None:
        super().__init__(message)
        self.request_id = request_id


class CheckpointError(ReconsentError):
    """A ledger checkpoint cannot be written (writers still busy, a file of that name exists)."""


class WaveStateError(ReconsentError):
    """The wave's status does not allow that (approve a decided wave, resume a running one)."""


class DecisionError(ReconsentError):
    """A consent decision cannot be recorded (no explicit choice, closed request...)."""


class AddressError(ValueError):
    """An email or phone number that cannot be used; the message says why."""


class InvalidRowError(ValueError):
    """A CSV row cannot be imported; ``str(err)`` says why (no personal data)."""
