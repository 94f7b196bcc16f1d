"""The settings of the record of processing and the DPIA (``reconsent record export``,
``reconsent dpia draft``): the DPO, the EU representative, the large-scale threshold.

A part of :class:`reconsent.settings.Settings` (which inherits it, so the variables are
``RECONSENT_DPO_NAME`` and so on), kept apart to keep ``settings.py`` small.
"""

from __future__ import annotations

from pydantic import BaseModel, Field

__all__ = ["RecordSettings"]


class RecordSettings(BaseModel):
    dpo_name: str | None = Field(
        default=None,
        description="The data protection officer (GDPR art. 37), named in the record of "
        "processing and the DPIA draft. Unset: the record says none is designated.",
    )
    dpo_contact: str | None = Field(
        default=None, description="How to reach the DPO (e-mail or address), in the record."
    )
    eu_representative_name: str | None = Field(
        default=None,
        description="The representative in the EU (GDPR art. 27) of a controller established "
        "outside it, in the record. Unset: none (a controller established in the EU).",
    )
    eu_representative_contact: str | None = Field(
        default=None, description="How to reach the EU representative, in the record."
    )
    dpia_large_scale_contacts: int = Field(
        default=10_000,
        ge=1,
        description="From this many people in the base the DPIA draft counts the processing "
        "as large scale (WP248 names no number: set the one your DPO uses).",
    )
