"""Two people sharing an e-mail (issue 17): one's erasure blocks that address and the
erased person's own, never the housemate's own phone; the housemate's data export
shows the shared address as shared, not as the other person's erasure."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import Engine, select

from models import Contact, Wave
from reconsent.db import unit_of_work
from reconsent.kernel.clock import FixedClock
from reconsent.kernel.vocab import Channel
from reconsent.ledger.append import LedgerContext
from reconsent.ledger.portability import subject_export
from reconsent.planning.classification import classify
from reconsent.rights.subject_requests import erase_contact
from tests.support import factories

FAMILY = "rossi.family@example.it"


def test_an_erasure_blocks_the_erased_addresses_not_the_housemates_own(
    engine: Engine, clock: FixedClock
) -> None:
    now = clock.now()
    with unit_of_work(engine) as s:
        purposes = factories.add_catalog(s, now)
        anna = factories.add_contact(s, now, "ANNA", email=FAMILY, phone="+393331110001")
        marco = factories.add_contact(s, now, "MARCO", email=FAMILY, phone="+393331110002")
        for person in (anna, marco):
            factories.consent_to_channels(s, now, person, purposes, now - timedelta(days=800))
        ctx = LedgerContext(controller="Test S.r.l.", jurisdiction="IT", now=now)
        erase_contact(s, contact=anna, ctx=ctx)
        marco_id = marco.id
    clock.advance(timedelta(days=1))
    later = clock.now()
    with unit_of_work(engine) as s:
        wave = factories.add_wave(s, later, name="next")
        classified = classify(s, s.get_one(Wave, wave.id), later)
        row = s.execute(select(classified).where(classified.c.contact_id == marco_id)).one()
        blocks = {c: row._mapping[f"block_{c.value}"] for c in Channel}
        export = subject_export(s, s.get_one(Contact, marco_id), "Test S.r.l.")
    assert row.reason == "eligible"  # Marco is still asked, on his own phone
    assert (blocks[Channel.EMAIL] or "").startswith("suppressed")  # the shared address: not
    assert blocks[Channel.SMS] is None and blocks[Channel.IVR] is None
    shown = export["suppressions"]
    assert shown and {s["reason"] for s in shown} == {"shared_address"}
    assert {s["channel"] for s in shown} == {"email"}
    assert "erasure" not in str(shown)
