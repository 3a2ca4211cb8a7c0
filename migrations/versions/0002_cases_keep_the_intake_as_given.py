"""Cases keep the intake as the channel gave it: the whole description, the address, lat/long, the first
attachment (Open311 reads them back as posted).

Revision ID: 0002
Revises: 0001
Create Date: 2026-12-02 00:59:40.311875
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("cases", schema=None) as batch_op:
        batch_op.add_column(sa.Column("description", sa.String(), nullable=True))
        batch_op.add_column(sa.Column("address", sa.String(), nullable=True))
        batch_op.add_column(sa.Column("lat", sa.Float(), nullable=True))
        batch_op.add_column(sa.Column("lng", sa.Float(), nullable=True))
        batch_op.add_column(sa.Column("media_url", sa.String(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("cases", schema=None) as batch_op:
        batch_op.drop_column("media_url")
        batch_op.drop_column("lng")
        batch_op.drop_column("lat")
        batch_op.drop_column("address")
        batch_op.drop_column("description")
