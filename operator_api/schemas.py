"""The request and response bodies of the operator API (pydantic: validation and the
OpenAPI document's schemas come from the same classes)."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from reconsent.kernel.vocab import Channel

__all__ = [
    "MAX_BATCH",
    "BatchAnswer",
    "BatchCheck",
    "ChangeOut",
    "ChangesPage",
    "ChoiceIn",
    "ConsentPost",
    "ConsentRecorded",
    "ContactRef",
    "ContactabilityAnswer",
    "ObjectionPost",
    "ObjectionRecorded",
    "Problem",
]

#: The most contacts one batch check may name.
MAX_BATCH = 10_000


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class ContactRef(_Strict):
    """A contact, named by exactly one of its phone (E.164, or national for the
    controller's country), its e-mail or the CRM's external id."""

    phone: str | None = Field(default=None, max_length=40)
    email: str | None = Field(default=None, max_length=320)
    external_id: str | None = Field(default=None, max_length=128)

    @model_validator(mode="after")
    def _exactly_one(self) -> ContactRef:
        if sum(v is not None for v in (self.phone, self.email, self.external_id)) != 1:
            raise ValueError("name the contact by exactly one of phone, email, external_id")
        return self

    def kind_value(self) -> tuple[str, str]:
        for kind in ("phone", "email", "external_id"):
            value = getattr(self, kind)
            if value is not None:
                return kind, value
        raise AssertionError("validated: one is set")


class ContactabilityAnswer(BaseModel):
    """May the contact be reached on the channel now? ``reasons``: every one that stands
    in the way (empty when allowed); for calls and SMS, the seconds left in the calling
    window (when open) or its next opening (UTC, when closed)."""

    allowed: bool
    reasons: list[str]
    seconds_in_window: int | None = None
    next_allowed_at: datetime | None = None


class BatchCheck(_Strict):
    channel: Channel
    purpose: str | None = Field(default=None, max_length=64)
    at: datetime | None = Field(default=None, description="The moment judged (default: now).")
    contacts: list[ContactRef] = Field(min_length=1, max_length=MAX_BATCH)


class BatchAnswer(BaseModel):
    """One answer per contact, in the order asked."""

    channel: Channel
    at: datetime
    answers: list[ContactabilityAnswer]


class ChoiceIn(_Strict):
    purpose: str = Field(max_length=64)
    decision: Literal["given", "refused", "withdrawn"]


class _CallIn(_Strict):
    contact: ContactRef
    agent_id: str = Field(min_length=1, max_length=64)
    call_id: str | None = Field(default=None, max_length=128)
    recording_ref: str | None = Field(default=None, max_length=256)
    channel: Channel = Field(default=Channel.IVR, description="The channel the person was on.")


class ConsentPost(_CallIn):
    """What the person decided, purpose by purpose, after ``notice_version`` (the notice
    or spoken script read to them, as published) was read."""

    notice_version: str = Field(min_length=1, max_length=32)
    choices: list[ChoiceIn] = Field(min_length=1, max_length=50)


class ObjectionPost(_CallIn):
    """Art. 21 "never contact me": every channel, every purpose, at once."""


class ConsentRecorded(BaseModel):
    external_id: str
    states: dict[str, str]


class ObjectionRecorded(BaseModel):
    external_id: str
    objected: bool


class ChangeOut(BaseModel):
    cursor: int
    event_id: str
    external_id: str
    subject_id: str
    purpose: str
    state: str
    occurred_at: str
    recorded_at: str
    method: str
    channel: str | None
    notice_version: str | None
    actor: str


class ChangesPage(BaseModel):
    """Changes after ``since``, oldest first; ask again with ``next_cursor``."""

    changes: list[ChangeOut]
    next_cursor: int


class Problem(BaseModel):
    """An error (RFC 9457 problem details)."""

    title: str
    status: int
    detail: str | None = None
