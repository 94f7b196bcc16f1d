"""The one error tree of reconsent.

Every error a user can cause derives from :class:`ReconsentError`; the CLI
prints its message on one line and exits non-zero, never a traceback.
"""

from __future__ import annotations


class ReconsentError(Exception):
    """Base class: a problem the user can act on, described in ``str(err)``."""


class ConfigError(ReconsentError):
    """Settings, a wave config or a catalog file is invalid."""


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


class DecisionError(ReconsentError):
    """A consent decision cannot be recorded (no explicit choice, closed request...)."""
