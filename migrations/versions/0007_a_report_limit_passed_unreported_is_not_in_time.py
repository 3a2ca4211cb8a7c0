"""A department whose 报到 limit passed unreported is recorded as not in time: 报到率 counted the miss, but its
whistle record showed it as not decided yet. Projections now record it when the limit passes; this records the
ones missed before.

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-07 11:50:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

events = sa.table(
    "case_events",
    sa.column("case_id", sa.String),
    sa.column("unit_id", sa.String),
    sa.column("kind", sa.String),
    sa.column("deadline_kind", sa.String),
    sa.column("data", sa.JSON),
)
summons = sa.table(
    "whistle_departments",
    sa.column("case_id", sa.String),
    sa.column("n", sa.Integer),
    sa.column("unit_id", sa.String),
    sa.column("checked_in_at", sa.DateTime),
    sa.column("report_in_time", sa.Boolean),
)


def upgrade() -> None:
    conn = op.get_bind()
    missed = conn.execute(
        sa.select(events.c.case_id, events.c.unit_id, events.c.data).where(
            events.c.kind == "overdue", events.c.deadline_kind == "report"
        )
    ).all()
    for case_id, unit_id, data in missed:
        n = (data or {}).get("whistle")  # an int, or a string in events recorded before typed payloads
        if n is None or not str(n).isdigit():
            continue
        conn.execute(
            sa.update(summons)
            .where(
                summons.c.case_id == case_id,
                summons.c.n == int(n),
                summons.c.unit_id == unit_id,
                summons.c.checked_in_at.is_(None),
            )
            .values(report_in_time=False)
        )


def downgrade() -> None:
    """Nothing to undo: a missed 报到 shown as not decided was never right."""
