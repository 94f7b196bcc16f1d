"""Creating and reading waves (the wave's config is validated against the catalog)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from models import Notice, Purpose, Wave
from reconsent.db import is_postgres
from reconsent.kernel.errors import ConfigError, NotFoundError
from reconsent.kernel.rules.eligibility import SOFT_SPAM_EXCLUDED_CATEGORIES
from reconsent.kernel.rules.escalation import StepSpec
from reconsent.kernel.rules.notice_dates import format_moment
from reconsent.kernel.vocab import DeclaredBasis, WaveStatus
from reconsent.kernel.waveconfig import WaveConfig, parse_wave_config


def create_wave(session: Session, config: WaveConfig, now: datetime) -> Wave:
    """Store a new draft wave; a config the catalog contradicts is a ``ConfigError``, and
    so is a notice not in effect yet at ``now`` (the answers would cite it before then)."""
    check_against_catalog(config, wave_purposes(session, config))
    takes_effect = session.scalar(
        select(func.max(Notice.effective_from)).where(Notice.version == config.notice_version)
    )
    if takes_effect is None:
        raise ConfigError(
            f"notice version {config.notice_version!r} is not published: "
            "run `reconsent catalog load` first"
        )
    if takes_effect > now:
        raise ConfigError(
            f"notice version {config.notice_version!r} takes effect on "
            f"{format_moment(takes_effect)}: a wave can show it from then on (every answer "
            "cites the notice shown); create the wave then"
        )
    wave = Wave(
        name=config.name,
        status=WaveStatus.DRAFT,
        config=config.model_dump(mode="json"),
        notice_version=config.notice_version,
        created_at=now,
    )
    session.add(wave)
    session.flush()
    return wave


def check_against_catalog(config: WaveConfig, purposes: list[Purpose]) -> None:
    """What the wave file alone cannot tell: every step's channel must be lawful for
    somebody, and a soft-spam declaration must cover only the controller's own offers."""
    bound = {p.channel for p in purposes if p.channel is not None}
    for number, step in enumerate(config.steps, start=1):
        if step.channel not in bound and step.channel not in config.lawful_basis:
            raise ConfigError(
                f"step {number} ({step.channel.value}): none of the wave's purposes is bound "
                f"to {step.channel.value}, so nobody could lawfully be reached on it; add "
                f"the {step.channel.value} purpose to `purposes` or remove the step"
            )
    if DeclaredBasis.SOFT_SPAM in config.lawful_basis.values():
        barred = [p.code for p in purposes if p.category in SOFT_SPAM_EXCLUDED_CATEGORIES]
        if barred:
            raise ConfigError(
                "lawful_basis.email: soft spam covers only the controller's own similar "
                f"products, never {', '.join(barred)} (art. 130(4) Codice privacy): ask "
                "about those only people who consented, in a wave without the declaration"
            )


def wave_purposes(session: Session, config: WaveConfig) -> list[Purpose]:
    """The wave's purposes, in the wave's order; unknown codes are a ConfigError."""
    found = {
        p.code: p for p in session.scalars(select(Purpose).where(Purpose.code.in_(config.purposes)))
    }
    missing = [code for code in config.purposes if code not in found]
    if missing:
        raise ConfigError(f"unknown purpose(s): {', '.join(missing)}")
    return [found[code] for code in config.purposes]


def lock_wave(session: Session, wave_id: int) -> Wave:
    """The wave, locked until the unit of work ends, read after the lock: two ticks that
    plan it at once, or two answers to its approval, take turns (the second one sees
    what the first did). PostgreSQL: ``FOR UPDATE``; SQLite: a first write takes the
    database's write lock before anything is read."""
    if not is_postgres(session):
        session.execute(update(Wave).where(Wave.id == wave_id).values(status=Wave.status))
    wave = session.scalar(
        select(Wave)
        .where(Wave.id == wave_id)
        .with_for_update()
        .execution_options(populate_existing=True)
    )
    if wave is None:
        raise NotFoundError(f"wave {wave_id} does not exist")
    return wave


def get_wave(session: Session, wave_id: int) -> Wave:
    wave = session.get(Wave, wave_id)
    if wave is None:
        raise NotFoundError(f"wave {wave_id} does not exist")
    return wave


def wave_config(wave: Wave) -> WaveConfig:
    return parse_wave_config(wave.config, source=f"wave {wave.id}")


def step_specs(wave: Wave) -> list[StepSpec]:
    """The wave's steps as the escalation rules see them."""
    config = wave_config(wave)
    return [
        StepSpec(s.channel, s.wait_delta, config.quiet_hours.preset(s.channel))
        for s in config.steps
    ]
