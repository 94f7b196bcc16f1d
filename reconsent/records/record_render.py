"""Render the record of processing and the DPIA draft as Markdown, HTML or JSON.

Jinja2 templates beside this module (``templates/``), strict about undefined names;
HTML is autoescaped (catalog texts are data, never markup), Markdown is not. JSON is
the plain data itself (``dataclasses.asdict``), with the locale's texts.
"""

from __future__ import annotations

import dataclasses
import json
from functools import lru_cache
from pathlib import Path
from typing import Any, Literal

from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape

from reconsent.records.dpia import Dpia, build_dpia
from reconsent.records.dpia_texts import dpia_labels
from reconsent.records.record_inputs import CatalogSnapshot, ProductFacts
from reconsent.records.record_of_processing import Record, build_record
from reconsent.records.record_texts import LOCALES, retention_rule

__all__ = ["FORMATS", "Format", "documents", "render_dpia", "render_record"]

Format = Literal["md", "html", "json"]
FORMATS: tuple[Format, ...] = ("md", "html", "json")
TEMPLATES = Path(__file__).parent / "templates"


@lru_cache(maxsize=1)
def _environment() -> Environment:
    return Environment(
        loader=FileSystemLoader(TEMPLATES),
        autoescape=select_autoescape(enabled_extensions=("html.j2",), default=False),
        undefined=StrictUndefined,
        keep_trailing_newline=True,
        trim_blocks=False,
    )


def _context(locale: str) -> dict[str, Any]:
    words = dpia_labels(locale)

    def t(key: str, **params: Any) -> str:
        return words[key].format(**params) if params else words[key]

    return {
        "L": words,
        "t": t,
        "locale": locale,
        "retention": lambda value: retention_rule(value, locale),
    }


def _as_json(document: Record | Dpia) -> str:
    return json.dumps(dataclasses.asdict(document), ensure_ascii=False, indent=2) + "\n"


def render_record(record: Record, fmt: Format) -> str:
    if fmt == "json":
        return _as_json(record)
    context = _context(record.locale)
    template = _environment().get_template(f"record.{fmt}.j2")
    return template.render(r=record, title=context["L"]["title"], **context)


def render_dpia(dpia: Dpia, fmt: Format) -> str:
    if fmt == "json":
        return _as_json(dpia)
    context = _context(dpia.locale)
    template = _environment().get_template(f"dpia.{fmt}.j2")
    return template.render(d=dpia, title=context["L"]["dpia.title"], **context)


def documents(snapshot: CatalogSnapshot, facts: ProductFacts) -> dict[str, str]:
    """Every document in every locale and format, by file name ("record.it.md", ...)."""
    out: dict[str, str] = {}
    for locale in LOCALES:
        record, dpia = build_record(snapshot, facts, locale), build_dpia(snapshot, facts, locale)
        for fmt in FORMATS:
            out[f"record.{locale}.{fmt}"] = render_record(record, fmt)
            out[f"dpia.{locale}.{fmt}"] = render_dpia(dpia, fmt)
    return out
