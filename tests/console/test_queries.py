"""The board's queries over a read model of known rows: the order a supervisor reads them in."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlmodel import Session, SQLModel, create_engine

from console.queries import board
from models.case import Status
from models.tables import CaseRow
from policy import load_policy

NOW = datetime(2026, 12, 7, 10, 0, tzinfo=UTC)


def row(case_id: str, *, status: Status = Status.handling, overdue_since: datetime | None, **more: object) -> CaseRow:
    return CaseRow.model_validate(
        {
            "case_id": case_id,
            "channel": "app",
            "channel_ticket_id": case_id,
            "category": "exposed_rubbish",
            "title": case_id,
            "grid_id": "grid-a1-1",
            "status": status.value,
            "holder": "grid-a1-1",
            "tier": "grid",
            "overdue": True,
            "overdue_since": overdue_since,
            "reported_at": NOW - timedelta(days=3),
            **more,
        }
    )


def test_the_overdue_table_puts_the_longest_overdue_first() -> None:
    engine = create_engine("sqlite://")
    SQLModel.metadata.create_all(engine)
    with Session(engine) as s:
        s.add(row("since-an-hour", overdue_since=NOW - timedelta(hours=1)))
        s.add(row("since-unknown", overdue_since=None))  # recorded before cases kept the time
        s.add(row("since-two-days", overdue_since=NOW - timedelta(days=2)))
        s.add(row("since-a-day-rated", status=Status.replied, overdue_since=NOW - timedelta(days=1)))
        s.add(row("since-a-day", overdue_since=NOW - timedelta(days=1), next_deadline=NOW + timedelta(hours=1)))
        s.commit()
        shown = board(s, directory=load_policy().directory, now=NOW)
    assert [r.case_id for r in shown.overdue] == ["since-two-days", "since-a-day", "since-an-hour", "since-unknown"]
    assert shown.overdue_count == 4
