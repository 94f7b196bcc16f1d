"""The layout keeps its promises: one name one module, small modules, a true map.

Reads files only (no imports, no database).
"""

from __future__ import annotations

import re
from collections import defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PRODUCT = ("reconsent", "models", "channels", "consent_portal", "flows", "migrations")
#: Frozen, applied Alembic revisions: history, never edited (see the session-2 note).
FROZEN = ("migrations/versions/",)
MAX_LINES = 400


def _modules() -> list[Path]:
    found: list[Path] = []
    for package in PRODUCT:
        found.extend(p for p in (ROOT / package).rglob("*.py") if "__pycache__" not in p.parts)
    return found


def test_no_two_product_modules_share_a_file_name() -> None:
    by_name: dict[str, list[str]] = defaultdict(list)
    for path in _modules():
        if path.name != "__init__.py" and not str(path.relative_to(ROOT)).startswith(FROZEN):
            by_name[path.name].append(str(path.relative_to(ROOT)))
    assert {name: paths for name, paths in by_name.items() if len(paths) > 1} == {}


def test_no_product_module_is_over_400_lines() -> None:
    long = {
        str(path.relative_to(ROOT)): lines
        for path in _modules()
        if not str(path.relative_to(ROOT)).startswith(FROZEN)
        and (lines := len(path.read_text().splitlines())) > MAX_LINES
    }
    assert long == {}


def test_every_path_the_readme_names_exists() -> None:
    readme = (ROOT / "README.md").read_text()
    named = set(
        re.findall(r"`((?:reconsent|models|channels|consent_portal|flows)/[\w/.]*)`", readme)
    )
    assert named, "the README names no path"
    assert sorted(p for p in named if not (ROOT / p).exists()) == []


def test_every_journey_package_is_in_the_readme_table() -> None:
    readme = (ROOT / "README.md").read_text()
    packages = [
        p.parent.relative_to(ROOT).as_posix() + "/"
        for p in (ROOT / "reconsent").glob("*/__init__.py")
    ]
    assert [p for p in packages if f"`{p}`" not in readme] == []
