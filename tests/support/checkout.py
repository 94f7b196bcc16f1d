"""Subprocesses run this checkout's code.

Worktrees share one virtualenv, whose editable install points at one of them: a
``python -m reconsent.cli.main`` started from a temporary folder would otherwise
run that checkout's code, not the one under test.
"""

from __future__ import annotations

import os
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def with_checkout(env: dict[str, str]) -> dict[str, str]:
    """``env`` with this checkout first on ``PYTHONPATH``."""
    path = os.pathsep.join(p for p in (str(ROOT), env.get("PYTHONPATH", "")) if p)
    return {**env, "PYTHONPATH": path}
