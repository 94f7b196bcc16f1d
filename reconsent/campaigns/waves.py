"""Creating and reading waves (the wave's config is validated against the catalog)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from models import Notice, Purpose, Wave
from reconsent.kernel.errors import ConfigError, NotFoundError
from reconsent.kernel.rules.escalation import StepSpec
from reconsent.kernel.vocab import WaveStatus
from reconsent.kernel.waveconfig import WaveConfig, parse_wave_config


def create_wave(session: Session, config: WaveConfig, now: datetime) -> Wave:
    purposes = wave_purposes(session, config)
    del purposes
    has_notice = session.scalar(
        select(Notice.id).where(Notice.version == config.notice_version).limit(1)
    )
    if has_notice is None:
        raise ConfigError(
            f"notice version {config.notice_version!r} is not published: "
            "run `reconsent catalog load` first"
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


def wave_purposes(session: Session, config: WaveConfig) -> list[Purpose]:
    """The wave's purposes, in the wave's order; unknown codes are a ConfigError."""
    found = {
        p.code: p for p in session.scalars(select(Purpose).where(Purpose.code.in_(config.purposes)))
    }
    missing = [code for code in config.purposes if code not in found]
    if missing:
        raise ConfigError(f"unknown purpose(s): {', '.join(missing)}")
    return [found[code] for code in config.purposes]


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
