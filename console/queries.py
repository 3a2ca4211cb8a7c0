"""The supervisors' board, read from the SQL read model: what is overdue, what falls due within the day, what
waits for the supervisor, by unit and tier, and the misses recorded in the last day."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import case, or_
from sqlmodel import Session, col, func, select

from models.case import Status
from models.policy import Directory
from models.tables import CaseRow, EventRow
from models.timeline import EventKind

DUE_WITHIN = timedelta(hours=24)
MISSES_WITHIN = timedelta(hours=24)
SHOWN = 50
# Cases whose deadlines run against a unit: not closed, not waiting for the resident's rating, not suspended.
RUNNING = tuple(
    s.value
    for s in (Status.dispatched, Status.handling, Status.return_pending, Status.supervisor, Status.to_redispatch)
)
WAITING = (Status.supervisor.value, Status.to_redispatch.value)
"""Cases the supervisor must decide: past the reopen cap, or left by the street's slice for 改派/延期/销号."""


@dataclass(frozen=True)
class UnitLoad:
    holder: str
    tier: str | None
    overdue: int
    due_soon: int


@dataclass(frozen=True)
class Board:
    overdue: list[CaseRow]
    overdue_count: int
    due_soon: list[CaseRow]
    due_soon_count: int
    waiting: list[CaseRow]
    by_unit: list[UnitLoad]
    misses: list[EventRow]


def board(session: Session, *, directory: Directory, now: datetime) -> Board:
    running = col(CaseRow.status).in_(RUNNING)
    late = col(CaseRow.overdue).is_(True)
    soon = col(CaseRow.overdue).is_(False) & (col(CaseRow.next_deadline) <= now + DUE_WITHIN)

    def rows(*where: Any, order: Any) -> list[CaseRow]:
        return list(session.exec(select(CaseRow).where(*where).order_by(order).limit(SHOWN)).all())

    def count(*where: Any) -> int:
        return int(session.exec(select(func.count()).select_from(CaseRow).where(*where)).one())

    supervisor = directory.supervisor.id
    waiting = rows(
        or_(col(CaseRow.status).in_(WAITING), col(CaseRow.awaiting) == supervisor),
        col(CaseRow.status) != Status.closed.value,
        order=col(CaseRow.reported_at),
    )
    loads = session.exec(
        select(
            CaseRow.holder,
            CaseRow.tier,
            func.sum(case((late, 1), else_=0)),
            func.sum(case((soon, 1), else_=0)),
        )
        .where(running, late | soon)
        .group_by(col(CaseRow.holder), col(CaseRow.tier))
    ).all()
    misses = session.exec(
        select(EventRow)
        .where(
            col(EventRow.kind).in_([EventKind.overdue.value, EventKind.auto_escalate.value]),
            col(EventRow.at) >= now - MISSES_WITHIN,
        )
        .order_by(col(EventRow.at).desc())
        .limit(SHOWN)
    ).all()
    tier_order = {"grid": 0, "community": 1, "street": 2, "department": 3, "district": 4}
    by_unit = sorted(
        (UnitLoad(holder or "", tier, int(o or 0), int(s or 0)) for holder, tier, o, s in loads),
        key=lambda u: (tier_order.get(u.tier or "", 9), -u.overdue, -u.due_soon, u.holder),
    )
    return Board(
        overdue=rows(running, late, order=col(CaseRow.overdue_since).asc().nulls_last()),
        overdue_count=count(running, late),
        due_soon=rows(running, soon, order=col(CaseRow.next_deadline)),
        due_soon_count=count(running, soon),
        waiting=waiting,
        by_unit=by_unit,
        misses=list(misses),
    )
