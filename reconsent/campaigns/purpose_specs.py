"""One purpose of the catalog file, validated: what is asked, and the facts the consent
receipts (and the record of processing) state about it.

Besides its code, titles, descriptions, channel, lawful basis and lifetime, a purpose
says whether its data goes to recipients outside the controller
(``third_party_sharing``), whether it uses special categories of data
(``sensitive``, GDPR art. 9) or children's data (``children``), which categories of
data it uses (``data_categories``), who receives them (``recipients``, e.g.
``"SendGrid (processor)"``) and how long they are kept once the consent is no longer
in force (``retention``: months after a refusal, a withdrawal or the expiry). For the
record of processing it also names the catalog's processors it uses (``processors``,
their codes) and its categories of data subjects (``data_subjects``).
"""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, model_validator

from models import Retention
from reconsent.kernel.vocab import Channel

__all__ = ["Locale", "PurposeSpec", "RetentionSpec", "Text"]

Locale = Annotated[str, Field(pattern=r"^[a-z]{2}$")]
Text = Annotated[str, Field(min_length=1)]
#: One data category or recipient: a short, non-blank line.
Entry = Annotated[str, Field(min_length=1, max_length=200, pattern=r"\S")]
Months = Annotated[int, Field(ge=0, le=240)]


class RetentionSpec(BaseModel):
    """Months the purpose's data is kept after each way a consent stops (0: not kept)."""

    model_config = ConfigDict(extra="forbid")

    refused: Months
    withdrawn: Months
    expired: Months

    def policy(self) -> Retention:
        return Retention(refused=self.refused, withdrawn=self.withdrawn, expired=self.expired)


class PurposeSpec(BaseModel):
    model_config = ConfigDict(extra="forbid")

    code: str = Field(pattern=r"^[a-z][a-z0-9_]{0,63}$")
    category: str = Field(default="marketing", min_length=1, max_length=64)
    channel: Channel | None = Field(default=None, description="Set for channel-bound purposes.")
    lawful_basis: str = Field(default="consent", min_length=1, max_length=32)
    lifetime_months: int = Field(default=24, ge=1, le=120)
    titles: dict[Locale, Text] = Field(min_length=1)
    descriptions: dict[Locale, Text] = Field(min_length=1)
    third_party_sharing: bool = Field(
        default=False, description="The data goes to recipients outside the controller."
    )
    sensitive: bool = Field(default=False, description="Special categories (GDPR art. 9).")
    children: bool = Field(default=False, description="Children's data.")
    data_categories: list[Entry] = Field(default_factory=list)
    recipients: list[Entry] = Field(default_factory=list)
    retention: RetentionSpec | None = Field(
        default=None, description="Months kept after a refusal, a withdrawal, the expiry."
    )
    processors: list[str] = Field(
        default_factory=list, description="Codes of the catalog's processors it uses."
    )
    data_subjects: list[Entry] = Field(
        default_factory=list, description='Categories of data subjects, e.g. "customers".'
    )

    @model_validator(mode="after")
    def _facts(self) -> PurposeSpec:
        for name in ("data_categories", "recipients", "processors", "data_subjects"):
            values: list[str] = getattr(self, name)
            repeated = sorted({v for v in values if values.count(v) > 1})
            if repeated:
                raise ValueError(f"{name}: repeated {', '.join(map(repr, repeated))}")
        if self.third_party_sharing and not self.recipients:
            raise ValueError(
                "third_party_sharing = true needs the recipients it shares with "
                '(recipients = ["..."]): a receipt must name them'
            )
        return self

    def stored(self) -> dict[str, Any]:
        """The purpose's columns as the catalog sets them (the code aside)."""
        return {
            "category": self.category,
            "channel": self.channel,
            "lawful_basis": self.lawful_basis,
            "lifetime_months": self.lifetime_months,
            "titles": dict(self.titles),
            "descriptions": dict(self.descriptions),
            "third_party_sharing": self.third_party_sharing,
            "sensitive": self.sensitive,
            "children": self.children,
            "data_categories": list(self.data_categories),
            "recipients": list(self.recipients),
            "retention": self.retention.policy().as_json() if self.retention else None,
            "processors": list(self.processors),
            "data_subjects": list(self.data_subjects),
        }
