"""Who a case involves (case_units), each whistle's departments (whistle_departments), the vault by case, and the
outbox's deliveries (the notification dispatcher's). The first two are filled from the timeline already recorded;
messages the old in-activity delivery had sent are marked routed, so the dispatcher does not send them again.

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-02 02:06:48.880166
"""

from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "case_units",
        sa.Column("case_id", sa.String(), nullable=False),
        sa.Column("unit_id", sa.String(), nullable=False),
        sa.PrimaryKeyConstraint("case_id", "unit_id"),
    )
    with op.batch_alter_table("case_units", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_case_units_unit_id"), ["unit_id"], unique=False)

    op.create_table(
        "whistle_departments",
        sa.Column("case_id", sa.String(), nullable=False),
        sa.Column("n", sa.Integer(), nullable=False),
        sa.Column("unit_id", sa.String(), nullable=False),
        sa.Column("kind", sa.String(), nullable=False),
        sa.Column("whistler", sa.String(), nullable=False),
        sa.Column("summoned_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("report_due", sa.DateTime(timezone=True), nullable=True),
        sa.Column("contact_due", sa.DateTime(timezone=True), nullable=True),
        sa.Column("finish_due", sa.DateTime(timezone=True), nullable=True),
        sa.Column("checked_in_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("report_in_time", sa.Boolean(), nullable=True),
        sa.Column("contacted_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("released_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("rated_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("speed", sa.Integer(), nullable=True),
        sa.Column("cooperation", sa.Integer(), nullable=True),
        sa.Column("result", sa.Integer(), nullable=True),
        sa.Column("closed", sa.Boolean(), nullable=False),
        sa.PrimaryKeyConstraint("case_id", "n", "unit_id"),
    )
    with op.batch_alter_table("whistle_departments", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_whistle_departments_closed"), ["closed"], unique=False)
        batch_op.create_index(batch_op.f("ix_whistle_departments_unit_id"), ["unit_id"], unique=False)

    op.create_table(
        "notification_deliveries",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("notification_id", sa.Integer(), nullable=False),
        sa.Column("case_id", sa.String(), nullable=False),
        sa.Column("recipient", sa.String(), nullable=False),
        sa.Column("channel", sa.String(), nullable=False),
        sa.Column("provider", sa.String(), nullable=False),
        sa.Column("state", sa.String(), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("failures", sa.Integer(), nullable=False),
        sa.Column("resent", sa.Integer(), nullable=False),
        sa.Column("next_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("claimed_until", sa.DateTime(timezone=True), nullable=True),
        sa.Column("claimed_by", sa.String(), nullable=True),
        sa.Column("sending_since", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_error", sa.String(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("delivered_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("dead_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["notification_id"],
            ["notifications.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("notification_id", "channel"),
    )
    with op.batch_alter_table("notification_deliveries", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_notification_deliveries_claimed_by"), ["claimed_by"], unique=False)
        batch_op.create_index(
            "ix_notification_deliveries_lane",
            ["case_id", "recipient", "channel", "state", "notification_id"],
            unique=False,
        )
        batch_op.create_index(
            batch_op.f("ix_notification_deliveries_notification_id"), ["notification_id"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_notification_deliveries_state"), ["state"], unique=False)

    with op.batch_alter_table("notifications", schema=None) as batch_op:
        batch_op.add_column(sa.Column("routed_at", sa.DateTime(timezone=True), nullable=True))
        batch_op.create_index(batch_op.f("ix_notifications_routed_at"), ["routed_at"], unique=False)
    op.execute("UPDATE notifications SET routed_at = delivered_at WHERE delivered_at IS NOT NULL")
    with op.batch_alter_table("notifications", schema=None) as batch_op:
        batch_op.drop_column("delivered_at")

    with op.batch_alter_table("reporters", schema=None) as batch_op:
        batch_op.add_column(sa.Column("case_id", sa.String(), nullable=True))
        batch_op.create_index(batch_op.f("ix_reporters_case_id"), ["case_id"], unique=True)
    _backfill(op.get_bind())


def downgrade() -> None:
    with op.batch_alter_table("reporters", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_reporters_case_id"))
        batch_op.drop_column("case_id")

    with op.batch_alter_table("notifications", schema=None) as batch_op:
        batch_op.add_column(sa.Column("delivered_at", sa.DateTime(timezone=True), nullable=True))
    op.execute("UPDATE notifications SET delivered_at = routed_at")
    with op.batch_alter_table("notifications", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_notifications_routed_at"))
        batch_op.drop_column("routed_at")

    with op.batch_alter_table("notification_deliveries", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_notification_deliveries_state"))
        batch_op.drop_index(batch_op.f("ix_notification_deliveries_notification_id"))
        batch_op.drop_index("ix_notification_deliveries_lane")
        batch_op.drop_index(batch_op.f("ix_notification_deliveries_claimed_by"))

    op.drop_table("notification_deliveries")
    with op.batch_alter_table("whistle_departments", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_whistle_departments_unit_id"))
        batch_op.drop_index(batch_op.f("ix_whistle_departments_closed"))

    op.drop_table("whistle_departments")
    with op.batch_alter_table("case_units", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_case_units_unit_id"))

    op.drop_table("case_units")


EVENTS = sa.table(
    "case_events",
    sa.column("case_id", sa.String()),
    sa.column("seq", sa.Integer()),
    sa.column("at", sa.DateTime(timezone=True)),
    sa.column("kind", sa.String()),
    sa.column("unit_id", sa.String()),
    sa.column("data", sa.JSON()),
    sa.column("deadline_met", sa.Boolean()),
)


def _listed(value: Any) -> list[str]:
    """A list as events record it: typed (a JSON list) or, before payloads were typed, a comma list."""
    if isinstance(value, list):
        return [str(v) for v in value]
    return [v for v in str(value or "").split(",") if v]


def _backfill(conn: Any) -> None:
    units: set[tuple[str, str]] = set()
    summons: dict[tuple[str, int, str], dict[str, Any]] = {}
    steps = {"report": "checked_in_at", "contact": "contacted_at", "release": "released_at"}
    rows = conn.execute(sa.select(EVENTS).order_by(EVENTS.c.case_id, EVENTS.c.seq)).all()
    for r in rows:
        data = r.data or {}
        if r.unit_id:
            units.add((r.case_id, r.unit_id))
        if r.kind == "dispatch":
            units.update((r.case_id, u) for u in _listed(data.get("assisting")))
        elif r.kind == "whistle" and str(data.get("n", "")).isdigit():
            for d in _listed(data.get("departments")):
                units.add((r.case_id, d))
                summons[(r.case_id, int(data["n"]), d)] = {
                    "case_id": r.case_id,
                    "n": int(data["n"]),
                    "unit_id": d,
                    "kind": str(data.get("kind", "")),
                    "whistler": r.unit_id or "",
                    "summoned_at": r.at,
                    "closed": False,
                }
        n = data.get("whistle")
        if n is None or not str(n).isdigit():
            continue
        if r.kind == "whistle_closed":
            for (case, m, _), row in summons.items():
                if case == r.case_id and m == int(n):
                    row["closed"] = True
        summoned = summons.get((r.case_id, int(n), r.unit_id or ""))
        if summoned is not None and r.kind in steps:
            summoned[steps[r.kind]] = r.at
            if r.kind == "report":
                summoned["report_in_time"] = r.deadline_met
    if units:
        conn.execute(
            sa.table("case_units", sa.column("case_id"), sa.column("unit_id")).insert(),
            [{"case_id": c, "unit_id": u} for c, u in sorted(units)],
        )
    columns = {k for row in summons.values() for k in row}
    if summons:
        table = sa.table("whistle_departments", *(sa.column(c) for c in sorted(columns)))
        conn.execute(table.insert(), [{c: row.get(c) for c in columns} for row in summons.values()])
