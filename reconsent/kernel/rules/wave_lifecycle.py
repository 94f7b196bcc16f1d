"""What an operator may do to a wave in each status, and the status it leaves.

A plain table over the two vocabularies, tested without I/O:

* pause: a draft, a wave awaiting approval or a running wave stops sending (no tick
  plans or sends for it) until resumed, which brings back the status it had;
* cancel: any wave not finished ends; its open requests are closed with the reason;
* approve / decline: only a wave awaiting approval, once (a second answer, or one given
  on a stale page, is refused: it cannot rewrite the first); a decline cancels;
* edit (waits, caps, link lifetime): any wave not finished; promote: a dry run only.
"""

from __future__ import annotations

from reconsent.kernel.errors import WaveStateError
from reconsent.kernel.vocab import WaveAction, WaveStatus

__all__ = ["FINISHED", "SENDS_NOTHING", "after", "refusal"]

#: Waves nothing can change any more.
FINISHED = frozenset({WaveStatus.COMPLETED, WaveStatus.CANCELLED})
#: Waves no tick sends for: finished, paused, waiting for approval, or a dry run.
SENDS_NOTHING = FINISHED | {WaveStatus.PAUSED, WaveStatus.AWAITING_APPROVAL, WaveStatus.PLANNED}
_OPEN = frozenset(WaveStatus) - FINISHED

_ALLOWED: dict[WaveAction, frozenset[WaveStatus]] = {
    WaveAction.PAUSE: frozenset(
        {WaveStatus.DRAFT, WaveStatus.AWAITING_APPROVAL, WaveStatus.RUNNING}
    ),
    WaveAction.RESUME: frozenset({WaveStatus.PAUSED}),
    WaveAction.CANCEL: _OPEN,
    WaveAction.APPROVE: frozenset({WaveStatus.AWAITING_APPROVAL}),
    WaveAction.DECLINE: frozenset({WaveStatus.AWAITING_APPROVAL}),
    WaveAction.EDIT: _OPEN,
    WaveAction.PROMOTE: frozenset({WaveStatus.PLANNED}),
}


def refusal(action: WaveAction, status: WaveStatus) -> str | None:
    """Why ``action`` cannot be done to a wave in ``status`` (None: it can)."""
    if status in _ALLOWED[action]:
        return None
    if action in (WaveAction.APPROVE, WaveAction.DECLINE):
        return f"the wave is {status.value}, not awaiting approval: it was decided already"
    if action is WaveAction.PROMOTE:
        return f"only a dry run that was planned can be promoted (the wave is {status.value})"
    return f"a {status.value} wave cannot {action.value}"


def after(action: WaveAction, status: WaveStatus, paused_from: WaveStatus | None) -> WaveStatus:
    """The status ``action`` leaves (``paused_from``: the status a paused wave had).
    Raises ``WaveStateError`` with :func:`refusal` when the action is not allowed."""
    problem = refusal(action, status)
    if problem:
        raise WaveStateError(problem)
    if action is WaveAction.PAUSE:
        return WaveStatus.PAUSED
    if action is WaveAction.RESUME:
        return paused_from or WaveStatus.RUNNING
    if action in (WaveAction.CANCEL, WaveAction.DECLINE):
        return WaveStatus.CANCELLED
    if action in (WaveAction.APPROVE, WaveAction.PROMOTE):
        return WaveStatus.DRAFT  # the next tick plans (once) and sends
    return status  # an edit changes the configuration, not the status
