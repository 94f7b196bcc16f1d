"""`reconsent demo` from an installed wheel (issue 17): the examples ship as package
data, nothing is read from the source tree.

The wheel is built from this checkout (offline: no build isolation; setuptools and
wheel are dev dependencies), installed with ``--target`` into a temporary folder that
comes first on ``PYTHONPATH``, and the demo runs from another working directory on
10 contacts. Its dependencies come from the project's virtualenv.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.support.checkout import ROOT

pytestmark = pytest.mark.integration
_NOT_SHIPPED = (
    *(".git", ".venv", "node_modules", "var", "demo-data", "build", "dist", "*.egg-info"),
    *(".mypy_cache", ".ruff_cache", ".pytest_cache", "__pycache__", "*.db", "docs"),
)


def _run(args: list[str], cwd: Path, env: dict[str, str], timeout: int) -> str:
    done = subprocess.run(
        args, cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout, check=False
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    return done.stdout


def test_the_demo_runs_from_an_installed_wheel(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("RECONSENT_", "PYTHON"))}
    pip = [sys.executable, "-m", "pip", "--disable-pip-version-check", "-q"]
    wheels, site, work = tmp_path / "dist", tmp_path / "site", tmp_path / "elsewhere"
    work.mkdir()
    # Built from a copy of the sources: setuptools leaves build/ and *.egg-info behind.
    source = tmp_path / "source"
    shutil.copytree(ROOT, source, symlinks=True, ignore=shutil.ignore_patterns(*_NOT_SHIPPED))
    _run(
        [*pip, "wheel", "--no-deps", "--no-build-isolation", "-w", str(wheels), str(source)],
        tmp_path,
        env,
        300,
    )
    [wheel] = wheels.glob("reconsent-*.whl")
    _run([*pip, "install", "--no-deps", "--target", str(site), str(wheel)], tmp_path, env, 300)
    installed = {**env, "PYTHONPATH": str(site)}
    where = _run(
        [sys.executable, "-c", "import reconsent.dev.demo.runner as r; print(r.EXAMPLES)"],
        work,
        installed,
        60,
    )
    assert where.strip() == str(site / "reconsent" / "dev" / "demo" / "examples")
    demo = [sys.executable, "-m", "reconsent.cli.main", "demo", "--dir", "demo", "--contacts", "10"]
    out = _run(demo, work, installed, 600)
    assert "[6/6] result" in out and "Done in" in out
    assert (work / "demo" / "var" / "outbox" / "email").is_dir()
    # The record's templates ship too: the demo ends by writing the DPO's documents.
    assert (
        "# Registro delle attività di trattamento"
        in (work / "demo" / "dpo" / "record.it.md").read_text()
    )
