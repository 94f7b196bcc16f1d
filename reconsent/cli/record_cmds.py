"""``reconsent record export`` and ``reconsent dpia draft``: the DPO's documents,
generated from the catalog in the database, the settings and the channels in use."""

from __future__ import annotations

from pathlib import Path

import typer

from reconsent.cli.context import console, session, settings
from reconsent.kernel.clock import SystemClock
from reconsent.kernel.errors import ConfigError
from reconsent.records.record_inputs import CatalogSnapshot, ProductFacts
from reconsent.records.record_render import FORMATS, Format
from reconsent.records.record_texts import LOCALES
from reconsent.settings import Settings

record_app = typer.Typer(
    help="The record of processing activities (GDPR art. 30).", no_args_is_help=True
)
dpia_app = typer.Typer(
    help="Data protection impact assessment (GDPR art. 35).", no_args_is_help=True
)

FORMAT = typer.Option("md", "--format", help="md, html or json.")
LOCALE = typer.Option("it", "--locale", help="it or en.")
OUT = typer.Option(None, "--out", dir_okay=False, help="Write to this file (default stdout).")


def _format(fmt: str, locale: str) -> Format:
    for value in FORMATS:
        if fmt == value:
            if locale not in LOCALES:
                raise ConfigError(f"--locale {locale!r}: use one of {', '.join(LOCALES)}")
            return value
    raise ConfigError(f"--format {fmt!r}: use one of {', '.join(FORMATS)}")


def _inputs() -> tuple[CatalogSnapshot, ProductFacts]:
    from reconsent.records.catalog_rows import read_snapshot
    from reconsent.records.product_facts import product_facts
    from reconsent.wiring import channel_providers

    cfg: Settings = settings()
    providers = channel_providers(cfg)
    with session(cfg) as s:
        snapshot = read_snapshot(s)
    if not snapshot.purposes:
        raise ConfigError("the catalog is empty: run `reconsent catalog load FILE` first")
    return snapshot, product_facts(cfg, providers, SystemClock().now())


def _write(content: str, out: Path | None, what: str) -> None:
    if out is None:
        print(content, end="")
        return
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(content, encoding="utf-8")
    console.print(f"{what} written to {out}", highlight=False)


@record_app.command("export")
def export(fmt: str = FORMAT, locale: str = LOCALE, out: Path | None = OUT) -> None:
    """The art. 30(1) record: controller and DPO, purposes, data and subjects, recipients,
    processors and transfers, erasure time limits, security measures."""
    from reconsent.records.record_of_processing import build_record
    from reconsent.records.record_render import render_record

    checked = _format(fmt, locale)
    snapshot, facts = _inputs()
    _write(
        render_record(build_record(snapshot, facts, locale), checked), out, "record of processing"
    )


@dpia_app.command("draft")
def draft(fmt: str = FORMAT, locale: str = LOCALE, out: Path | None = OUT) -> None:
    """A DPIA skeleton: the WP248 criteria met (from facts), necessity, risks and the
    measures the product applies, and the sections for the DPO to complete."""
    from reconsent.records.dpia import build_dpia
    from reconsent.records.record_render import render_dpia

    checked = _format(fmt, locale)
    snapshot, facts = _inputs()
    _write(render_dpia(build_dpia(snapshot, facts, locale), checked), out, "DPIA draft")
