"""The catalog: purposes of processing, processors and privacy notices, from a TOML file.

Processors (``processor_specs.py``: art. 28, DPA, transfer mechanism) are mirrored: upserted
by code, and one the file no longer lists is removed unless a stored purpose names it.

Purposes are upserted by code (``purpose_specs.py``: what a purpose states; every
field but the channel may change, reported as "updated").  Notices are rendered
from Jinja2 templates (sandboxed, autoescaped, strict about undefined names) and
published once per (version, locale): loading the same catalog again changes nothing, and a
published notice whose rendering changed is refused with ``ImmutableError``.

Each version has an ``effective_from`` (a TOML date, read as midnight UTC, or a
date-time; without an offset it is UTC): consents captured earlier cannot cite
it (``reconsent.kernel.rules.notice_dates``). Left out, it is the publish time
(for a new locale of a published version: that version's). It is published
with the notice and never changes: a different value for a published version
is refused with ``ImmutableError``; leaving it out later keeps the stored one.
"""

from __future__ import annotations

import hashlib
import re
import tomllib
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path
from typing import Annotated, Any

from jinja2 import FileSystemLoader, StrictUndefined, TemplateError, TemplateNotFound
from jinja2.sandbox import SandboxedEnvironment
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator
from sqlalchemy import select
from sqlalchemy.orm import Session

from models import Notice, Processor, Purpose
from reconsent.campaigns.processor_specs import ProcessorSpec
from reconsent.campaigns.purpose_specs import Locale, PurposeSpec, Text
from reconsent.kernel.errors import ConfigError, ImmutableError
from reconsent.kernel.rules.notice_dates import effective_moment, format_moment
from reconsent.settings import Settings


class NoticeSpec(BaseModel):
    model_config = ConfigDict(extra="forbid")

    version: str = Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]{0,31}$")
    title: dict[Locale, Annotated[str, Field(min_length=1, max_length=300)]] = Field(min_length=1)
    templates: dict[Locale, Text] = Field(min_length=1)
    purposes: list[str] | None = Field(
        default=None, description="Purpose codes the notice lists; default every purpose."
    )
    effective_from: datetime | date | None = Field(
        default=None,
        description="When the version takes effect (a date: midnight UTC); default the "
        "publish time. Consents captured earlier cannot cite it.",
    )

    @property
    def effective(self) -> datetime | None:
        """``effective_from`` as a UTC moment (None: not given)."""
        return None if self.effective_from is None else effective_moment(self.effective_from)

    @model_validator(mode="after")
    def _same_locales(self) -> NoticeSpec:
        if set(self.title) != set(self.templates):
            raise ValueError("title and templates must name the same locales")
        return self


class CatalogFile(BaseModel):
    model_config = ConfigDict(extra="forbid")

    processors: list[ProcessorSpec] = Field(default_factory=list)
    purposes: list[PurposeSpec] = Field(default_factory=list)
    notices: list[NoticeSpec] = Field(default_factory=list)

    @model_validator(mode="after")
    def _consistent(self) -> CatalogFile:
        codes = [p.code for p in self.purposes]
        _no_repeats(codes, "purpose code")
        _no_repeats([p.code for p in self.processors], "processor code")
        known = {p.code for p in self.processors}
        for purpose in self.purposes:
            unknown = sorted(set(purpose.processors) - known)
            if unknown:
                raise ValueError(f"purpose {purpose.code} names unknown processor(s): {unknown}")
        _no_repeats([n.version for n in self.notices], "notice version")
        for notice in self.notices:
            listed = notice.purposes if notice.purposes is not None else codes
            unknown = sorted(set(listed) - set(codes))
            if unknown:
                raise ValueError(f"notice {notice.version} lists unknown purpose(s): {unknown}")
            for purpose in self.purposes:
                if purpose.code not in listed:
                    continue
                for locale in notice.templates:
                    if locale not in purpose.titles or locale not in purpose.descriptions:
                        raise ValueError(
                            f"purpose {purpose.code} needs a title and a description in "
                            f"{locale!r} for notice {notice.version}"
                        )
        return self


@dataclass
class CatalogReport:
    """What a load did; notices are named ``version/locale``."""

    purposes_created: list[str] = field(default_factory=list)
    purposes_updated: list[str] = field(default_factory=list)
    purposes_unchanged: list[str] = field(default_factory=list)
    processors_created: list[str] = field(default_factory=list)
    processors_updated: list[str] = field(default_factory=list)
    processors_unchanged: list[str] = field(default_factory=list)
    processors_removed: list[str] = field(default_factory=list)
    notices_created: list[str] = field(default_factory=list)
    notices_unchanged: list[str] = field(default_factory=list)

    @property
    def changed(self) -> bool:
        return bool(
            self.purposes_created
            or self.purposes_updated
            or self.processors_created
            or self.processors_updated
            or self.processors_removed
            or self.notices_created
        )


@dataclass(frozen=True)
class RenderedNotice:
    version: str
    locale: str
    title: str
    body_html: str
    digest: str


def load_catalog(session: Session, path: Path, settings: Settings, now: datetime) -> CatalogReport:
    """Validate, render and publish the catalog at ``path`` in the caller's transaction.

    Everything is checked (file, templates, immutability) before anything is
    written.  Raises ``ConfigError`` naming the file and field, or
    ``ImmutableError`` for a published notice whose content would change.
    """
    catalog = read_catalog(path)
    rendered = [
        notice
        for index, spec in enumerate(catalog.notices)
        for notice in render_notice(spec, catalog.purposes, path, settings, f"notices[{index}]")
    ]
    report = CatalogReport()
    wanted = {spec.version: spec.effective for spec in catalog.notices}
    new_notices, effective = _check_notices(session, rendered, wanted, path, report)
    _upsert_purposes(session, catalog.purposes, now, report)
    _sync_processors(session, catalog.processors, now, report)
    for notice in new_notices:
        session.add(
            Notice(
                version=notice.version,
                locale=notice.locale,
                title=notice.title,
                body_html=notice.body_html,
                digest=notice.digest,
                published_at=now,
                effective_from=effective.get(notice.version) or now,
            )
        )
        report.notices_created.append(f"{notice.version}/{notice.locale}")
    session.flush()
    return report


def read_catalog(path: Path) -> CatalogFile:
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError(f"{path}: no such file") from None
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{path}: not valid TOML: {exc}") from None
    try:
        return CatalogFile.model_validate(data)
    except ValidationError as exc:
        problems = "; ".join(f"{_location(err['loc'], data)}: {err['msg']}" for err in exc.errors())
        raise ConfigError(f"{path}: {problems}") from None


def render_notice(
    spec: NoticeSpec,
    purposes: list[PurposeSpec],
    catalog_path: Path,
    settings: Settings,
    where: str = "notice",
) -> list[RenderedNotice]:
    """Render every locale of one notice; ``digest`` is the sha256 of ``body_html``."""
    env = SandboxedEnvironment(
        loader=FileSystemLoader(catalog_path.parent),
        autoescape=True,
        undefined=StrictUndefined,
        keep_trailing_newline=True,
    )
    listed = [p for p in purposes if spec.purposes is None or p.code in spec.purposes]
    out: list[RenderedNotice] = []
    for locale, template_name in spec.templates.items():
        context = {
            "controller_name": settings.controller_name,
            "controller_contact": settings.controller_contact,
            "jurisdiction": settings.jurisdiction,
            "version": spec.version,
            "locale": locale,
            "purposes": [_purpose_context(p, locale) for p in listed],
        }
        try:
            body = env.get_template(Path(template_name).as_posix()).render(context)
        except TemplateNotFound:
            raise ConfigError(
                f"{catalog_path}: {where}.templates.{locale}: template {template_name!r} not "
                f"found (paths are relative to {catalog_path.parent})"
            ) from None
        except TemplateError as exc:
            line = getattr(exc, "lineno", None)
            at = f" line {line}" if line else ""
            raise ConfigError(
                f"{catalog_path}: {where}.templates.{locale}: {template_name}{at}: {exc}"
            ) from None
        digest = hashlib.sha256(body.encode("utf-8")).hexdigest()
        out.append(RenderedNotice(spec.version, locale, spec.title[locale], body, digest))
    return out


def _purpose_context(purpose: PurposeSpec, locale: str) -> dict[str, Any]:
    return {
        "code": purpose.code,
        "title": purpose.titles[locale],
        "description": purpose.descriptions[locale],
        "category": purpose.category,
        "channel": purpose.channel.value if purpose.channel else None,
        "lawful_basis": purpose.lawful_basis,
        "lifetime_months": purpose.lifetime_months,
        "third_party_sharing": purpose.third_party_sharing,
        "sensitive": purpose.sensitive,
        "children": purpose.children,
        "data_categories": list(purpose.data_categories),
        "recipients": list(purpose.recipients),
        "retention": purpose.retention.model_dump() if purpose.retention else None,
    }


def _check_notices(
    session: Session,
    rendered: list[RenderedNotice],
    wanted: dict[str, datetime | None],
    path: Path,
    report: CatalogReport,
) -> tuple[list[RenderedNotice], dict[str, datetime | None]]:
    """The notices still to publish, and each version's effective moment (None: the
    publish time); ``ImmutableError`` if a published one would change."""
    versions = sorted({n.version for n in rendered})
    published = {
        (n.version, n.locale): n
        for n in session.scalars(select(Notice).where(Notice.version.in_(versions)))
    }
    effective = dict(wanted)
    for row in published.values():
        stored, asked = row.effective_from, wanted.get(row.version)
        if asked is not None and asked != stored:
            raise ImmutableError(
                f"{path}: notice {row.version} was published on "
                f"{row.published_at:%Y-%m-%d} taking effect {format_moment(stored)}; "
                f"effective_from {format_moment(asked)} would change that. Published "
                "notices never change (consents were judged against that date): write "
                f"effective_from = {format_moment(stored)} or leave it out, or publish "
                "a new version."
            )
        effective[row.version] = stored
    new: list[RenderedNotice] = []
    for notice in rendered:
        current = published.get((notice.version, notice.locale))
        if current is None:
            new.append(notice)
        elif current.digest == notice.digest and current.title == notice.title:
            report.notices_unchanged.append(f"{notice.version}/{notice.locale}")
        else:
            what = "content" if current.digest != notice.digest else "title"
            raise ImmutableError(
                f"{path}: notice {notice.version} ({notice.locale}) was published on "
                f"{current.published_at:%Y-%m-%d} and its {what} would change "
                f"(published digest {current.digest[:12]}, now {notice.digest[:12]}). "
                "Published notices never change: publish the change as a new version, "
                "and keep (or remove from the catalog) the old version's entry unchanged. "
                "Purpose titles, descriptions, lifetimes and the controller settings are "
                "part of a notice's content."
            )
    return new, effective


def _upsert_purposes(
    session: Session, specs: list[PurposeSpec], now: datetime, report: CatalogReport
) -> None:
    existing = {
        p.code: p
        for p in session.scalars(select(Purpose).where(Purpose.code.in_([s.code for s in specs])))
    }
    for spec in specs:
        values = spec.stored()
        purpose = existing.get(spec.code)
        if purpose is None:
            session.add(Purpose(code=spec.code, created_at=now, **values))
            report.purposes_created.append(spec.code)
            continue
        if purpose.channel != spec.channel:
            raise ConfigError(
                f"purpose {spec.code}: its channel cannot change (recorded consents were "
                "given for the old one); add a purpose with a new code instead"
            )
        changed = [name for name, value in values.items() if getattr(purpose, name) != value]
        for name in changed:
            setattr(purpose, name, values[name])
        (report.purposes_updated if changed else report.purposes_unchanged).append(spec.code)


def _sync_processors(
    session: Session, specs: list[ProcessorSpec], now: datetime, report: CatalogReport
) -> None:
    """The processors table mirrors the file: upserted by code, and a processor the file
    no longer lists is removed, unless a stored purpose still names it (``ConfigError``)."""
    session.flush()  # the purposes' new references first
    existing = {p.code: p for p in session.scalars(select(Processor))}
    for spec in specs:
        values = spec.stored()
        processor = existing.pop(spec.code, None)
        if processor is None:
            session.add(Processor(code=spec.code, created_at=now, **values))
            report.processors_created.append(spec.code)
            continue
        changed = [name for name, value in values.items() if getattr(processor, name) != value]
        for name in changed:
            setattr(processor, name, values[name])
        (report.processors_updated if changed else report.processors_unchanged).append(spec.code)
    for code, processor in sorted(existing.items()):
        users = sorted(p.code for p in session.scalars(select(Purpose)) if code in p.processors)
        if users:
            raise ConfigError(
                f"processor {code} is no longer in the catalog but purpose(s) {users} still "
                "name it: list it again, or take it out of those purposes"
            )
        session.delete(processor)
        report.processors_removed.append(code)


def _no_repeats(values: list[str], what: str) -> None:
    repeated = sorted({v for v in values if values.count(v) > 1})
    if repeated:
        raise ValueError(f"repeated {what}(s): {', '.join(repeated)}")


def _location(loc: tuple[int | str, ...], data: object) -> str:
    """('purposes', 1, 'lifetime_months') -> 'purposes[1] (marketing_sms).lifetime_months'."""
    text = ""
    node: Any = data
    for part in loc:
        if isinstance(part, int):
            text += f"[{part}]"
            node = node[part] if isinstance(node, list) and part < len(node) else None
            name = node.get("code") or node.get("version") if isinstance(node, dict) else None
            if isinstance(name, str) and re.fullmatch(r"[\w.-]{1,64}", name):
                text += f" ({name})"
        elif part == "[key]":
            text += " (the key)"
        else:
            text += f".{part}" if text else str(part)
            node = node.get(part) if isinstance(node, dict) else None
    return text or "(top)"
