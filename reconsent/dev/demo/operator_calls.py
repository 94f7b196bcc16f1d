"""The demo's last act: the contact centre through the operator API.

A dialler asks whether a sample number may be called now, an agent records that the
person objected on the call, and the same question is answered again at once.
"""

from __future__ import annotations

from typing import Any

import httpx
from sqlalchemy import Engine, func, select

from models import Contact
from operator_api.app import create_app
from reconsent.db import unit_of_work
from reconsent.dev.emulators.server import running_server
from reconsent.kernel.clock import Clock
from reconsent.operators.api_keys import create_key
from reconsent.settings import Settings

__all__ = ["operator_round"]


def _one_holder_numbers(engine: Engine) -> list[str]:
    """Phone numbers exactly one (not erased) contact holds."""
    with unit_of_work(engine) as session:
        return [
            phone
            for phone in session.scalars(
                select(Contact.phone)
                .where(Contact.phone.is_not(None), Contact.erased_at.is_(None))
                .group_by(Contact.phone)
                .having(func.count() == 1)
                .order_by(Contact.phone)
                .limit(500)
            )
            if phone
        ]


def operator_round(settings: Settings, clock: Clock, engine: Engine) -> dict[str, Any]:
    """Check, object, check again; what the two answers said (no number in the result)."""
    numbers = _one_holder_numbers(engine)
    if not numbers:
        return {}
    with unit_of_work(engine) as session:
        key = create_key(
            session, "demo-desk", "contactability:read,consents:write", clock.now()
        ).key
    app = create_app(settings, clock=clock)
    with (
        running_server(app) as base,
        httpx.Client(base_url=base, headers={"Authorization": f"Bearer {key}"}) as client,
    ):
        # The dialler's list, in one batch: the first number that may be called now.
        batch = {"channel": "ivr", "contacts": [{"phone": n} for n in numbers]}
        answers = client.post("/api/v1/contactability", json=batch).json()["answers"]
        allowed = [n for n, a in zip(numbers, answers, strict=True) if a["allowed"]]
        phone = allowed[0] if allowed else numbers[0]
        question = {"channel": "ivr", "phone": phone}
        before = client.get("/api/v1/contactability", params=question).json()
        objection = client.post(
            "/api/v1/objections",
            json={"contact": {"phone": phone}, "agent_id": "demo-agent-1", "call_id": "demo-1"},
            headers={"Idempotency-Key": "demo-objection-1"},
        )
        objection.raise_for_status()
        after = client.get("/api/v1/contactability", params=question).json()
    return {
        "base": base,
        "checked": len(numbers),
        "allowed": len(allowed),
        "before": before,
        "objection": objection.json()["external_id"],
        "after": after,
    }
