"""merge: the DPO's desk (record, retention, rights desk, one-time codes) and wave controls

The five revisions written side by side from e6b2a4d10001 (processors, evidence keys,
rights notices, one-time codes, wave events) touch different tables; this joins them
into one head again.

Revision ID: f0a1b2c30017
Revises: a8e1c0d20015, b9f2d1e30015, c0a3e2f40015, d1b4f3a50015, e2c5a7b90016
Create Date: 2026-12-06 01:00:00.000000
"""

from collections.abc import Sequence

revision: str = "f0a1b2c30017"
down_revision: tuple[str, ...] = (
    "a8e1c0d20015",
    "b9f2d1e30015",
    "c0a3e2f40015",
    "d1b4f3a50015",
    "e2c5a7b90016",
)
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
