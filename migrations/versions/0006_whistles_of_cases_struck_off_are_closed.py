"""The whistles of cases already struck off are closed: a case withdrawn or merged while its whistle ran took
the whistle down, but the read model kept its departments summoned (on their queues, owing a 报到). Projections
now close them with the case; this closes the ones recorded before.

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-07 07:45:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.execute(
        sa.text(
            "UPDATE whistle_departments SET closed = :closed WHERE closed = :open"
            " AND case_id IN (SELECT case_id FROM cases WHERE closed_at IS NOT NULL)"
        ).bindparams(closed=True, open=False)
    )


def downgrade() -> None:
    """Nothing to undo: an open whistle row of a closed case was never right."""
