"""The dependency rules in pyproject.toml ([tool.importlinter]) hold, and they bite.

``make lint`` runs ``lint-imports``; these tests run it too, on this tree and on
a copy with one forbidden import added, so a contract that silently stopped
checking anything would fail here.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[3]
PACKAGES = (
    "reconsent", "models", "channels", "consent_portal", "operator_api", "flows", "migrations",
)  # fmt: skip
LINT_IMPORTS = Path(sys.executable).with_name("lint-imports")


def _lint(tree: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(tree)}
    return subprocess.run(
        [str(LINT_IMPORTS), "--config", str(tree / "pyproject.toml"), "--no-cache"],
        cwd=tree,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


@pytest.fixture(scope="module")
def copy_of_tree(tmp_path_factory: pytest.TempPathFactory) -> Path:
    tree = tmp_path_factory.mktemp("tree")
    shutil.copy(ROOT / "pyproject.toml", tree)
    for package in PACKAGES:
        shutil.copytree(
            ROOT / package, tree / package, ignore=shutil.ignore_patterns("__pycache__")
        )
    return tree


def _with_import(tree: Path, module: str, line: str, tmp_path: Path) -> Path:
    """A fresh copy of ``tree`` where ``module`` (a path) also has ``line``."""
    target = tmp_path / "edited"
    shutil.copytree(tree, target)
    path = target / module
    path.write_text(path.read_text() + f"\n{line}\n")
    return target


def test_the_contracts_hold_on_this_tree(copy_of_tree: Path) -> None:
    result = _lint(copy_of_tree)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "0 broken" in result.stdout


@pytest.mark.parametrize(
    ("module", "line", "contract"),
    [
        # the kernel importing a journey: the kernel must stay pure
        (
            "reconsent/kernel/rules/escalation.py",
            "import reconsent.dispatch.dispatcher",
            "the kernel imports nothing of the project",
        ),
        # a channel adapter reaching for the database module
        ("channels/outbox.py", "import reconsent.db", "models/ and channels/ import only"),
        # the portal starting Prefect
        ("consent_portal/pages.py", "import prefect", "the portal imports no Prefect"),
        # the operator API starting Prefect, or reaching into the portal (a sibling)
        ("operator_api/app.py", "import prefect", "the operator API imports no Prefect"),
        ("operator_api/app.py", "import consent_portal.security", "entry points > wiring"),
        # the contact centre's journey importing the web framework
        ("reconsent/operators/capture.py", "import starlette", "import no web framework"),
        # a journey importing an entry point (a wrong arrow between layers)
        (
            "reconsent/ledger/append.py",
            "import reconsent.cli.main",
            "entry points > wiring > journeys",
        ),
        # product code importing the dev tools
        (
            "flows/wave_tick.py",
            "import reconsent.dev.emulators.sendgrid",
            "entry points > wiring > journeys",
        ),
    ],
)
def test_a_forbidden_import_breaks_the_lint(
    copy_of_tree: Path, tmp_path: Path, module: str, line: str, contract: str
) -> None:
    result = _lint(_with_import(copy_of_tree, module, line, tmp_path))
    assert result.returncode != 0
    broken = [row for row in result.stdout.splitlines() if "BROKEN" in row]
    assert any(contract in row for row in broken), result.stdout
