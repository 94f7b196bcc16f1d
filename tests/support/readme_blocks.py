"""The README's recipes, as tests run them (a fenced block after ``<!-- marker -->``)."""

from __future__ import annotations

import re
from pathlib import Path

README = Path(__file__).resolve().parents[2] / "README.md"


def readme_block(marker: str) -> str:
    """The code of the fenced sh, python or markdown block right after ``<!-- marker -->``."""
    text = README.read_text()
    found = re.search(rf"<!-- {marker} -->\n```(?:sh|python|markdown)\n(.*?)```", text, re.S)
    assert found, f"README has no {marker} block"
    return found.group(1)
