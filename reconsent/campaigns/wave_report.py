"""The report of a wave people read: per step, channel and locale, per purpose, and per
day: sent, delivered, answered, confirmed, refused, with rates. Counts only (no
personal data): it goes to the terminal, files and Prefect artifacts.

* **sent**: attempts the provider accepted (a lost outcome, presumed sent, counts too:
  the person may have it); **delivered**: those whose provider later said delivered
  (an e-mail delivered, an SMS delivered or read, a call completed);
* **answered**: requests answered at that step on that channel, **confirmed** (at least
  one purpose given) or **refused**; rates are over what was sent (answered / sent)
  and over the answers (confirmed / answered);
* **per purpose**: the decisions the wave collected (given, refused, withdrawn) over
  the people asked;
* **per day** (UTC): messages sent and answers received.
"""

from __future__ import annotations

import csv
import io
from collections import defaultdict
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from models import ConsentEvent, Contact, Purpose, SendAttempt, Wave, WaveRequest
from reconsent.kernel.vocab import AttemptStatus, RequestStatus

__all__ = ["DELIVERED_WORDS", "rate", "render_csv", "render_markdown", "wave_report"]

#: The providers' words (``SendAttempt.delivery_status``) that mean the message arrived.
DELIVERED_WORDS = ("delivered", "read", "completed")
_COUNTS = ("sent", "delivered", "answered", "confirmed", "refused")


def rate(part: int, whole: int) -> float | None:
    """``part / whole`` to three decimals (None: nothing to divide by)."""
    return round(part / whole, 3) if whole else None


def _with_rates(row: dict[str, Any]) -> dict[str, Any]:
    row["delivered_rate"] = rate(row["delivered"], row["sent"])
    row["answer_rate"] = rate(row["answered"], row["sent"])
    row["confirm_rate"] = rate(row["confirmed"], row["answered"])
    return row


def _steps(session: Session, wave_id: int) -> list[dict[str, Any]]:
    rows: dict[tuple[int, str, str], dict[str, Any]] = {}

    def row(step: int, channel: str, locale: str) -> dict[str, Any]:
        key = (step, channel, locale)
        if key not in rows:
            rows[key] = {"step": step + 1, "channel": channel, "locale": locale}
            rows[key].update(dict.fromkeys(_COUNTS, 0))
        return rows[key]

    went_out = SendAttempt.status.in_([AttemptStatus.SENT, AttemptStatus.UNKNOWN])
    sent = session.execute(
        select(
            SendAttempt.step_index,
            SendAttempt.channel,
            Contact.locale,
            func.count(),
            func.count().filter(SendAttempt.delivery_status.in_(DELIVERED_WORDS)),
        )
        .join(WaveRequest, WaveRequest.id == SendAttempt.request_id)
        .join(Contact, Contact.id == WaveRequest.contact_id)
        .where(WaveRequest.wave_id == wave_id, went_out)
        .group_by(SendAttempt.step_index, SendAttempt.channel, Contact.locale)
    )
    for step, channel, locale, count, delivered in sent:
        r = row(step, channel.value, locale)
        r["sent"], r["delivered"] = int(count), int(delivered)
    answered = session.execute(
        select(
            WaveRequest.step_index,
            WaveRequest.answered_channel,
            Contact.locale,
            WaveRequest.status,
            func.count(),
        )
        .join(Contact, Contact.id == WaveRequest.contact_id)
        .where(
            WaveRequest.wave_id == wave_id,
            WaveRequest.answered_channel.is_not(None),
            WaveRequest.status.in_([RequestStatus.CONFIRMED, RequestStatus.REFUSED]),
        )
        .group_by(
            WaveRequest.step_index, WaveRequest.answered_channel, Contact.locale, WaveRequest.status
        )
    )
    for step, by, locale, status, count in answered:
        r = row(step, by.value if by else "-", locale)
        r["answered"] += int(count)
        r[RequestStatus(status).value] += int(count)
    return [_with_rates(rows[k]) for k in sorted(rows)]


def _purposes(session: Session, wave_id: int, asked: int) -> list[dict[str, Any]]:
    found: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    for code, state, count in session.execute(
        select(Purpose.code, ConsentEvent.state, func.count(func.distinct(ConsentEvent.contact_id)))
        .join(Purpose, Purpose.id == ConsentEvent.purpose_id)
        .where(ConsentEvent.wave_id == wave_id)
        .group_by(Purpose.code, ConsentEvent.state)
    ):
        found[code][state.value] += int(count)
    return [
        {
            "purpose": code,
            "asked": asked,
            "given": states.get("given", 0),
            "refused": states.get("refused", 0),
            "withdrawn": states.get("withdrawn", 0),
            "given_rate": rate(states.get("given", 0), asked),
        }
        for code, states in sorted(found.items())
    ]


def _days(session: Session, wave_id: int) -> list[dict[str, Any]]:
    days: dict[str, dict[str, Any]] = {}

    def day(value: Any) -> dict[str, Any]:
        key = str(value)[:10]
        return days.setdefault(key, {"day": key, "sent": 0, "answers": 0})

    went_out = SendAttempt.status.in_([AttemptStatus.SENT, AttemptStatus.UNKNOWN])
    for when, count in session.execute(
        select(func.date(SendAttempt.sent_at), func.count())
        .join(WaveRequest, WaveRequest.id == SendAttempt.request_id)
        .where(WaveRequest.wave_id == wave_id, went_out, SendAttempt.sent_at.is_not(None))
        .group_by(func.date(SendAttempt.sent_at))
    ):
        day(when)["sent"] += int(count)
    for when, count in session.execute(
        select(
            func.date(ConsentEvent.occurred_at), func.count(func.distinct(ConsentEvent.request_id))
        )
        .where(ConsentEvent.wave_id == wave_id)
        .group_by(func.date(ConsentEvent.occurred_at))
    ):
        day(when)["answers"] += int(count)
    return [days[k] for k in sorted(days)]


def wave_report(session: Session, wave: Wave) -> dict[str, Any]:
    """The whole report as plain data (``--format json`` prints it as is)."""
    asked = int(
        session.scalar(
            select(func.count()).select_from(WaveRequest).where(WaveRequest.wave_id == wave.id)
        )
        or 0
    )
    steps = _steps(session, wave.id)
    totals = {k: sum(r[k] for r in steps) for k in _COUNTS}
    return {
        "wave_id": wave.id,
        "name": wave.name,
        "status": wave.status.value,
        "asked": asked,
        "totals": _with_rates({**totals}),
        "steps": steps,
        "purposes": _purposes(session, wave.id, asked),
        "days": _days(session, wave.id),
    }


def _pct(value: float | None) -> str:
    return "-" if value is None else f"{value * 100:.1f}%"


def _table(header: list[str], rows: list[list[str]]) -> list[str]:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(cells) + " |" for cells in rows]
    return lines


def render_markdown(report: dict[str, Any], *, title: str | None = None) -> str:
    """Markdown with proper tables (the terminal, a file, the Prefect artifact). ``title``:
    the heading (default: the wave's id; the name is left to the caller to escape)."""
    t = report["totals"]
    lines = [
        f"# {title or 'Wave ' + str(report['wave_id'])}",
        "",
        f"Status **{report['status']}**; {report['asked']} people asked; sent {t['sent']}, "
        f"delivered {t['delivered']} ({_pct(t['delivered_rate'])}), answered "
        f"{t['answered']} ({_pct(t['answer_rate'])} of sent), confirmed {t['confirmed']} "
        f"({_pct(t['confirm_rate'])} of answers), refused {t['refused']}.",
        "",
        "## Per step, channel and locale",
        "",
    ]
    header = ["step", "channel", "locale", *_COUNTS, "delivered %", "answered %", "confirmed %"]
    lines += _table(
        header,
        [
            [
                str(r["step"]),
                r["channel"],
                r["locale"],
                *(str(r[k]) for k in _COUNTS),
                *(_pct(r[k]) for k in ("delivered_rate", "answer_rate", "confirm_rate")),
            ]
            for r in report["steps"]
        ]
        or [["-"] * len(header)],
    )
    lines += ["", "## Per purpose", ""]
    lines += _table(
        ["purpose", "asked", "given", "refused", "withdrawn", "given %"],
        [
            [
                p["purpose"],
                *(str(p[k]) for k in ("asked", "given", "refused", "withdrawn")),
                _pct(p["given_rate"]),
            ]
            for p in report["purposes"]
        ]
        or [["-"] * 6],
    )
    lines += ["", "## Per day (UTC)", ""]
    lines += _table(
        ["day", "sent", "answers"],
        [[d["day"], str(d["sent"]), str(d["answers"])] for d in report["days"]] or [["-"] * 3],
    )
    return "\n".join(lines) + "\n"


def render_csv(report: dict[str, Any]) -> str:
    """The per-step rows as CSV (one line per step, channel and locale, with rates)."""
    out = io.StringIO()
    fields = ["step", "channel", "locale", *_COUNTS, "delivered_rate", "answer_rate"]
    writer = csv.DictWriter(out, fieldnames=[*fields, "confirm_rate"], lineterminator="\n")
    writer.writeheader()
    for r in report["steps"]:
        writer.writerow(r)
    return out.getvalue()
