"""lawful contact: customer evidence, and declared bases as a closed vocabulary

* ``contacts.customer_since``: the date of a sale, from the CRM; the evidence a
  soft-spam e-mail (Codice privacy art. 130(4)) needs for each person.
* Stored wave configs: ``lawful_basis`` was free text on any channel. Now it is
  the closed vocabulary of ``reconsent.kernel.vocab.DeclaredBasis`` and only
  e-mail may declare one. An e-mail declaration that names soft spam becomes
  ``soft_spam``; every other declaration (SMS, calls, anything else) is dropped,
  because no basis but a prior consent allows them. The original text is kept
  in ``lawful_basis_note`` for the wave's audit trail.

Revision ID: e7c3a9b10001
Revises: c5a1e2d30001
Create Date: 2026-12-01 23:30:00.000000
"""

import json
from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from alembic import op

revision: str = "e7c3a9b10001"
down_revision: str | None = "c5a1e2d30001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _normalised(config: dict[str, Any]) -> dict[str, Any] | None:
    declared = config.get("lawful_basis") or {}
    if not declared or all(v == "soft_spam" for v in declared.values()):
        return None
    kept: dict[str, str] = {}
    notes = [config.get("lawful_basis_note") or ""]
    for channel, text in declared.items():
        words = str(text).lower().replace("-", " ").replace("_", " ")
        if channel == "email" and "soft spam" in words:
            kept["email"] = "soft_spam"
        notes.append(f"{channel}: {text}")
    return {
        **config,
        "lawful_basis": kept,
        "lawful_basis_note": "; ".join(n for n in notes if n)[:2000],
    }


def upgrade() -> None:
    with op.batch_alter_table("contacts") as batch:
        batch.add_column(sa.Column("customer_since", sa.Date(), nullable=True))
    conn = op.get_bind()
    waves = sa.table("waves", sa.column("id", sa.Integer), sa.column("config", sa.JSON))
    for wave_id, config in conn.execute(sa.select(waves.c.id, waves.c.config)).all():
        data = json.loads(config) if isinstance(config, str) else config
        changed = _normalised(dict(data or {}))
        if changed is not None:
            conn.execute(waves.update().where(waves.c.id == wave_id).values(config=changed))


def downgrade() -> None:
    with op.batch_alter_table("contacts") as batch:
        batch.drop_column("customer_since")
