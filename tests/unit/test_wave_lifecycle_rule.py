"""What an operator may do to a wave in each status (a table, no I/O)."""

from __future__ import annotations

import pytest

from reconsent.kernel.errors import WaveStateError
from reconsent.kernel.rules.wave_lifecycle import FINISHED, SENDS_NOTHING, after, refusal
from reconsent.kernel.vocab import WaveAction, WaveStatus

pytestmark = pytest.mark.unit
S, A = WaveStatus, WaveAction


@pytest.mark.parametrize(
    ("action", "status", "paused_from", "leaves"),
    [
        (A.PAUSE, S.RUNNING, None, S.PAUSED),
        (A.PAUSE, S.DRAFT, None, S.PAUSED),
        (A.PAUSE, S.AWAITING_APPROVAL, None, S.PAUSED),
        (A.RESUME, S.PAUSED, S.RUNNING, S.RUNNING),
        (A.RESUME, S.PAUSED, S.DRAFT, S.DRAFT),
        (A.RESUME, S.PAUSED, S.AWAITING_APPROVAL, S.AWAITING_APPROVAL),
        (A.CANCEL, S.RUNNING, None, S.CANCELLED),
        (A.CANCEL, S.PAUSED, None, S.CANCELLED),
        (A.CANCEL, S.PLANNED, None, S.CANCELLED),
        (A.APPROVE, S.AWAITING_APPROVAL, None, S.DRAFT),
        (A.DECLINE, S.AWAITING_APPROVAL, None, S.CANCELLED),
        (A.EDIT, S.RUNNING, None, S.RUNNING),
        (A.EDIT, S.PAUSED, None, S.PAUSED),
        (A.PROMOTE, S.PLANNED, None, S.DRAFT),
    ],
)
def test_allowed_actions_and_the_status_they_leave(
    action: WaveAction, status: WaveStatus, paused_from: WaveStatus | None, leaves: WaveStatus
) -> None:
    assert refusal(action, status) is None
    assert after(action, status, paused_from) is leaves


@pytest.mark.parametrize(
    ("action", "status", "why"),
    [
        (A.APPROVE, S.RUNNING, "decided already"),
        (A.APPROVE, S.CANCELLED, "decided already"),
        (A.DECLINE, S.DRAFT, "not awaiting approval"),
        (A.RESUME, S.RUNNING, "a running wave cannot resume"),
        (A.PAUSE, S.PAUSED, "a paused wave cannot pause"),
        (A.PAUSE, S.COMPLETED, "cannot pause"),
        (A.CANCEL, S.CANCELLED, "cannot cancel"),
        (A.EDIT, S.COMPLETED, "cannot edit"),
        (A.PROMOTE, S.RUNNING, "only a dry run"),
    ],
)
def test_refused_actions_say_why(action: WaveAction, status: WaveStatus, why: str) -> None:
    assert why in (refusal(action, status) or "")
    with pytest.raises(WaveStateError, match=why):
        after(action, status, None)


def test_no_tick_sends_for_a_finished_paused_waiting_or_dry_run_wave() -> None:
    assert FINISHED < SENDS_NOTHING
    assert {S.PAUSED, S.AWAITING_APPROVAL, S.PLANNED} <= SENDS_NOTHING
    assert S.RUNNING not in SENDS_NOTHING and S.DRAFT not in SENDS_NOTHING
