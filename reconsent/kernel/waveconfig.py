"""The wave configuration: one Pydantic model for the TOML file, the CLI and the
Prefect UI form (it is the launcher flow's parameter)."""

from __future__ import annotations

import tomllib
from datetime import timedelta
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from reconsent.kernel.durations import DURATION_PATTERN, parse_duration
from reconsent.kernel.errors import ConfigError
from reconsent.kernel.rules.eligibility import declared_basis_problem
from reconsent.kernel.rules.names import control_characters
from reconsent.kernel.vocab import Channel, DeclaredBasis

Duration = Annotated[str, Field(pattern=DURATION_PATTERN, examples=["3d", "30s"])]
QuietPreset = Literal["it-telemarketing", "us-tcpa", "daytime", "always"]


#: The ranges a wave file must keep to (a typo such as "0s" or "100000d" is refused, not run):
#: a step waits from a minute (a test wave) to a month for an answer; a link lives from an
#: hour to 90 days (a consent asked for is given while the notice read is current); one
#: person is asked at most 10 times in at most two years; a channel's daily cap is at most
#: ten million messages.
WAIT_RANGE = (timedelta(minutes=1), timedelta(days=30))
LINK_LIFETIME_RANGE = (timedelta(hours=1), timedelta(days=90))
MAX_REQUESTS, MAX_CAP_DAYS, MAX_DAILY_CAP = 10, 730, 10_000_000


def _within(text: str, bounds: tuple[timedelta, timedelta], what: str) -> str:
    low, high = bounds
    if not low <= parse_duration(text) <= high:
        raise ValueError(f"{what} {text!r} is out of range: from {_shown(low)} to {_shown(high)}")
    return text


def _shown(delta: timedelta) -> str:
    seconds = int(delta.total_seconds())
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds % size == 0:
            return f"{seconds // size}{unit}"
    return f"{seconds}s"


class Step(BaseModel):
    model_config = ConfigDict(extra="forbid")

    channel: Channel
    wait: Duration = Field(
        description="How long to wait for an answer before the next step (1m to 30d)."
    )

    @field_validator("wait")
    @classmethod
    def _sane_wait(cls, value: str) -> str:
        return _within(value, WAIT_RANGE, "wait")

    @property
    def wait_delta(self) -> timedelta:
        return parse_duration(self.wait)


class Staleness(BaseModel):
    """Who needs asking: missing, old or old-notice consent for the wave's purposes."""

    model_config = ConfigDict(extra="forbid")

    stale_after_days: int = Field(default=365, ge=1, le=3650)
    old_notice_versions: list[str] = Field(
        default_factory=list,
        description="Consents given under these notice versions are stale; "
        "use ['*'] for any version but the wave's.",
    )
    include_missing: bool = Field(
        default=True, description="Ask contacts with no record (needs a declared lawful basis)."
    )
    unprovable_is_stale: bool = Field(
        default=True, description="Imported consent without evidence counts as stale."
    )


class QuietHours(BaseModel):
    """When each channel may reach a person, in the person's own timezone."""

    model_config = ConfigDict(extra="forbid")

    email: QuietPreset = "always"
    sms: QuietPreset = "daytime"
    ivr: QuietPreset = "it-telemarketing"

    def preset(self, channel: Channel) -> QuietPreset:
        preset: QuietPreset = getattr(self, channel.value)
        return preset


class FrequencyCap(BaseModel):
    """Nobody is asked more than ``max_requests`` times (across waves) in ``days`` days."""

    model_config = ConfigDict(extra="forbid")

    max_requests: int = Field(default=1, ge=1, le=MAX_REQUESTS)
    days: int = Field(default=90, ge=1, le=MAX_CAP_DAYS)


class WaveConfig(BaseModel):
    """A re-consent wave. The same model reads the TOML file and renders the UI form."""

    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=200)
    purposes: list[str] = Field(min_length=1, description="Purpose codes asked in this wave.")
    notice_version: str = Field(min_length=1, description="The notice version shown.")
    stale: Staleness = Field(default_factory=Staleness)
    lawful_basis: dict[Channel, DeclaredBasis] = Field(
        default_factory=dict,
        description="Per channel, the basis declared for people with no consent bound to "
        "that channel. Only email = 'soft_spam' exists (Codice privacy art. 130(4): own "
        "customers, similar products); SMS and recorded calls need a prior consent.",
    )
    lawful_basis_note: str = Field(
        default="",
        max_length=2000,
        description="Why the declared basis holds (e.g. which sales make people customers): "
        "kept with the wave for its audit trail.",
    )
    steps: list[Step] = Field(min_length=1, max_length=10)
    quiet_hours: QuietHours = Field(default_factory=QuietHours)
    link_lifetime: Duration = Field(
        default="14d", description="How long a request's signed link opens (1h to 90d)."
    )
    frequency_cap: FrequencyCap | None = Field(
        default=None, description="Skip people already asked this often by other waves."
    )
    daily_cap: dict[Channel, Annotated[int, Field(ge=1, le=MAX_DAILY_CAP)]] = Field(
        default_factory=dict,
        description="Most messages this wave sends per channel per UTC day (e.g. sms = 2000).",
    )
    require_approval: bool = Field(
        default=False,
        description="Pause before the first send until a person approves the audience in the UI.",
    )
    dry_run: bool = Field(default=False, description="Plan and report only; send nothing.")

    @field_validator("purposes")
    @classmethod
    def _unique_purposes(cls, value: list[str]) -> list[str]:
        if len(set(value)) != len(value):
            raise ValueError("purposes must not repeat")
        return value

    @field_validator("name")
    @classmethod
    def _printable_name(cls, value: str) -> str:
        # A name reaches terminals, the Prefect UI and reports: no escape sequences.
        found = control_characters(value)
        if found:
            raise ValueError(f"must not contain control characters ({', '.join(found)})")
        return value

    @field_validator("link_lifetime")
    @classmethod
    def _sane_lifetime(cls, value: str) -> str:
        return _within(value, LINK_LIFETIME_RANGE, "link_lifetime")

    @field_validator("lawful_basis", mode="before")
    @classmethod
    def _closed_vocabulary(cls, value: object) -> object:
        """One clear line per wrong declaration, before pydantic's generic ones."""
        if not isinstance(value, dict):
            return value
        for channel, basis in value.items():
            problem = declared_basis_problem(str(channel), str(basis))
            if problem:
                raise ValueError(problem)
        return value

    @model_validator(mode="after")
    def _basis_channels_used(self) -> WaveConfig:
        used = {step.channel for step in self.steps}
        unused = sorted(c.value for c in self.lawful_basis if c not in used)
        if unused:
            raise ValueError(f"lawful_basis names channels with no step: {', '.join(unused)}")
        return self

    @property
    def link_lifetime_delta(self) -> timedelta:
        return parse_duration(self.link_lifetime)

    @property
    def channels(self) -> list[Channel]:
        return [step.channel for step in self.steps]


def load_wave_config(path: Path) -> WaveConfig:
    """Read and validate a wave TOML file; errors name the file and the field."""
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError(f"{path}: no such file") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: not valid TOML: {exc}") from None
    return parse_wave_config(data, source=str(path))


def parse_wave_config(data: object, source: str = "wave config") -> WaveConfig:
    try:
        return WaveConfig.model_validate(data)
    except ValidationError as exc:
        problems = "; ".join(_problem(err) for err in exc.errors())
        raise ConfigError(f"{source}: {problems}") from None


def _problem(err: Any) -> str:
    where = ".".join(str(p) for p in err["loc"]) or "(top)"
    message = str(err["msg"]).removeprefix("Value error, ")
    # Our own messages already name the field (lawful_basis.sms: ...).
    return (
        message
        if message.startswith(f"{where}.") or message.startswith(where + ":")
        else (f"{where}: {message}")
    )
