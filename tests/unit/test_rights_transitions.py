"""Pure rules of the rights desk: deadlines and extensions, allowed moves, where the
person is told, and the words they read (it/en)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from reconsent.kernel.errors import DecisionError
from reconsent.kernel.vocab import Channel, RightsKind, RightsStatus
from reconsent.rights.notice_text import NoticeFacts, render_notice
from reconsent.rights.transitions import (
    AUTHORITIES,
    RequestState,
    authority_for,
    check_close,
    check_extend,
    due_date,
    extended_due,
    notice_channel,
    overdue,
)

RECEIVED = datetime(2027, 1, 31, 9, 0, tzinfo=UTC)


def _open(**overrides: object) -> RequestState:
    values: dict[str, object] = {
        "kind": RightsKind.ACCESS,
        "status": RightsStatus.OPEN,
        "received_at": RECEIVED,
        "due_at": due_date(RECEIVED),
    }
    values.update(overrides)
    return RequestState(**values)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("months", "due"),
    [
        (0, datetime(2027, 2, 28, 9, 0, tzinfo=UTC)),  # one month: 31 Jan -> 28 Feb
        (1, datetime(2027, 3, 31, 9, 0, tzinfo=UTC)),  # from receipt, not from 28 Feb
        (2, datetime(2027, 4, 30, 9, 0, tzinfo=UTC)),
    ],
)
def test_an_extension_counts_calendar_months_from_receipt(months: int, due: datetime) -> None:
    assert extended_due(RECEIVED, months) == due
    assert extended_due(datetime(2027, 11, 15, tzinfo=UTC), 2) == datetime(2028, 2, 15, tzinfo=UTC)


def test_an_open_request_may_be_extended_once_before_it_is_due_with_a_reason() -> None:
    now = RECEIVED + timedelta(days=20)
    assert check_extend(_open(), 2, "many requests", now) == datetime(2027, 4, 30, 9, tzinfo=UTC)
    refusals = {
        "already": (_open(extension_months=1), 1, "why", now),
        "1 or 2": (_open(), 3, "why", now),
        "reason": (_open(), 1, "  ", now),
        "first month": (_open(), 1, "why", RECEIVED + timedelta(days=40)),
        "only an open one": (_open(status=RightsStatus.COMPLETED), 1, "why", now),
        "never extended": (_open(kind=RightsKind.LINK_RENEWAL), 1, "why", now),
    }
    for words, (state, months, reason, when) in refusals.items():
        with pytest.raises(DecisionError, match=words):
            check_extend(state, months, reason, when)


def test_a_decline_needs_a_reason_and_a_closed_request_stays_closed() -> None:
    assert check_close(_open(), decline=False, reason=None) is RightsStatus.COMPLETED
    assert check_close(_open(), decline=True, reason="no data") is RightsStatus.DECLINED
    with pytest.raises(DecisionError, match="reason"):
        check_close(_open(), decline=True, reason=" ")
    with pytest.raises(DecisionError, match="declined already"):
        check_close(_open(status=RightsStatus.DECLINED), decline=False, reason=None)


def test_overdue_is_open_after_the_possibly_extended_due_date() -> None:
    late = due_date(RECEIVED) + timedelta(seconds=1)
    assert overdue(_open(), late)
    assert not overdue(_open(), due_date(RECEIVED))
    assert not overdue(_open(status=RightsStatus.COMPLETED), late)
    assert not overdue(_open(due_at=extended_due(RECEIVED, 2)), late)


def test_the_person_is_told_by_email_else_by_sms_else_not() -> None:
    assert notice_channel(email="a@example.com", phone="+39333") == (Channel.EMAIL, "a@example.com")
    assert notice_channel(email=None, phone="+39333") == (Channel.SMS, "+39333")
    assert notice_channel(email="", phone=None) is None


def _facts(action: str, locale: str = "it", **overrides: object) -> NoticeFacts:
    values: dict[str, object] = {
        "action": action,
        "kind": "erasure",
        "reference": 12,
        "locale": locale,
        "timezone": "Europe/Rome",
        "received_at": datetime(2026, 12, 31, 23, 30, tzinfo=UTC),  # 1 Jan in Rome
        "due_at": datetime(2027, 3, 31, 23, 30, tzinfo=UTC),
        "controller_name": "Esempio S.p.A.",
        "controller_contact": "dpo@esempio.it",
        "authority": "Garante per la protezione dei dati personali",
        "reason": "Dobbiamo <verificare> l'identità",
        "months": 2,
        "name": "Anna",
    }
    values.update(overrides)
    return NoticeFacts(**values)  # type: ignore[arg-type]


def test_each_notice_carries_its_reason_and_a_decline_names_the_remedies() -> None:
    extended = render_notice(_facts("extended"))
    declined = render_notice(_facts("declined"))
    english = render_notice(_facts("declined", "en-GB", name=None))

    assert extended.subject == "La tua richiesta: ci serve più tempo (12)"
    assert extended.text.startswith("Gentile Anna,\n")
    assert "il 1 gennaio 2027" in extended.text and "entro il 1 aprile 2027" in extended.text
    assert "due mesi" in extended.text and "Dobbiamo <verificare> l'identità" in extended.text
    assert "reclamo all'autorità di controllo, Garante" in declined.text
    assert "ricorso giurisdizionale" in declined.text
    assert "&lt;verificare&gt;" in declined.html and "<verificare>" not in declined.html
    assert english.text.startswith("Hello,\n") and "lodge a complaint" in english.text
    assert "Dobbiamo" in english.sms and "court" in english.sms
    with pytest.raises(ValueError, match="unknown notice action"):
        render_notice(_facts("archived"))


def test_a_completion_needs_no_reason_and_other_languages_read_english() -> None:
    done = render_notice(_facts("completed", "de", reason=None))
    assert done.subject == "Your request has been carried out (12)"
    assert "Why" not in done.text and "the erasure of your data" in done.text
    assert done.sms == (
        "Esempio S.p.A., request ref. 12 (the erasure of your data): has been carried out. "
        "Info: dpo@esempio.it"
    )


def test_a_decline_names_the_authority_of_the_controller_s_jurisdiction() -> None:
    assert authority_for("it") == AUTHORITIES["IT"] and "Garante" in AUTHORITIES["IT"]
    assert authority_for("GB") == "Information Commissioner's Office (ico.org.uk)"
    assert authority_for("FR") is None
    elsewhere = render_notice(_facts("declined", authority=None))
    assert "reclamo all'autorità di controllo del tuo Paese e ricorso" in elsewhere.text
    assert "reclamare all'autorità di controllo" in elsewhere.sms


def test_the_operator_s_reason_reads_as_one_sentence() -> None:
    busy = render_notice(_facts("extended", "en", reason="  We are\nbusy "))
    asked = render_notice(_facts("declined", "en", reason="Is it you?"))
    assert busy.sms.endswith("Why: We are busy. Info: dpo@esempio.it")
    assert "Why: We are busy.\n" in busy.text
    assert "Why: Is it you? You may complain to" in asked.sms
