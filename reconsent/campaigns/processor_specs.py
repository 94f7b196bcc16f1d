"""One processor of the catalog file, validated: who processes personal data on the
controller's behalf (GDPR art. 28), where, under which agreement, and how a transfer
outside the EEA is covered (``reconsent.kernel.rules.transfers``).

Purposes name the processors they use by ``code``; the record of processing
(``reconsent record export``) lists each one with its purposes.
"""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from reconsent.kernel.rules.transfers import TransferMechanism, transfer_problem

__all__ = ["ADAPTERS", "ProcessorSpec"]

#: The channel adapters a processor can be (``reconsent.wiring.provider_for``).
ADAPTERS = ("sendgrid", "twilio")

Line = Annotated[str, Field(min_length=1, max_length=300, pattern=r"\S")]


class ProcessorSpec(BaseModel):
    model_config = ConfigDict(extra="forbid")

    code: str = Field(pattern=r"^[a-z][a-z0-9_]{0,63}$")
    name: Annotated[str, Field(min_length=1, max_length=200, pattern=r"\S")]
    role: Literal["processor", "sub-processor"] = "processor"
    service: Line = Field(description="What it does for the controller (e-mail delivery).")
    country: str = Field(
        pattern=r"^[A-Z]{2}$", description="ISO 3166-1 alpha-2 country where it processes."
    )
    dpa_reference: Line = Field(description="The data processing agreement (art. 28(3)).")
    dpa_date: date | None = Field(default=None, description="When the DPA was signed.")
    transfer_mechanism: TransferMechanism = Field(
        description="none (in the EEA), adequacy, eu_us_dpf, sccs, bcr or derogation."
    )
    safeguards: list[Line] = Field(default_factory=list)
    adapter: Literal["sendgrid", "twilio"] | None = Field(
        default=None, description="The channel adapter it is, if any."
    )

    @model_validator(mode="after")
    def _transfer(self) -> ProcessorSpec:
        problem = transfer_problem(self.country, self.transfer_mechanism)
        if problem:
            raise ValueError(f"transfer_mechanism: {problem}")
        repeated = sorted({s for s in self.safeguards if self.safeguards.count(s) > 1})
        if repeated:
            raise ValueError(f"safeguards: repeated {', '.join(map(repr, repeated))}")
        return self

    def stored(self) -> dict[str, Any]:
        """The processor's columns as the catalog sets them (the code aside)."""
        return {
            "name": self.name,
            "role": self.role,
            "service": self.service,
            "country": self.country,
            "dpa_reference": self.dpa_reference,
            "dpa_date": self.dpa_date,
            "transfer_mechanism": self.transfer_mechanism,
            "safeguards": list(self.safeguards),
            "adapter": self.adapter,
        }
