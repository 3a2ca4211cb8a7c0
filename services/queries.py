"""The read model's queries: who may read a case, and what lists, queues and records say.

Keyword-only functions over a session, for the API and the console alike (the FastAPI template's `crud.py`):
the one place a reader's SQL is written. Nothing here talks to Temporal.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlmodel import Session, col, func, select

from models.case import Status
from models.inputs import Actor as CaseActor
from models.inputs import Role
from models.policy import Directory, Tier
from models.reads import Queue, QueueItem, RevealRecord, SummonedDepartment, WhistleRecord
from models.tables import CaseRow, CaseUnitRow, EventRow, RevealAudit, WhistleDepartmentRow
from models.timeline import CaseEvent, DeadlineKind, DeadlineRef, EventKind

READS_EVERY_CASE = frozenset({Role.supervisor.value, "admin"})
"""Supervisors, and the admin (operators), who reads every case but acts on none and sees no reporter."""
TODO = {
    Status.dispatched: "签收",
    Status.handling: "办理",
    Status.suspended: "挂账中（可恢复办理）",
    Status.supervisor: "督办处置",
    Status.to_redispatch: "督办改派",
}


def aware(at: datetime) -> datetime:
    # SQLite hands datetimes back naive; they were stored in UTC.
    return at if at.tzinfo else at.replace(tzinfo=UTC)


# ------------------------------------------------------------------------------------------ who may read


def may_read(session: Session, *, row: CaseRow, role: str, actor: CaseActor | None) -> bool:
    """Supervisors read every case; a channel the cases it took; a unit the cases it holds, waits to decide on,
    or is involved in (passed through, assists, was summoned to). DOMAIN.md: anyone else is told the case does
    not exist."""
    if role in READS_EVERY_CASE:
        return True
    if actor is None:
        return False
    if actor.role is Role.channel:
        return row.channel == actor.id
    if actor.role is not Role.unit or actor.unit_id is None:
        return False
    if actor.unit_id in (row.holder, row.awaiting):
        return True
    involved = session.get(CaseUnitRow, (row.case_id, actor.unit_id))
    return involved is not None


def readable_case(session: Session, *, case_id: str, role: str, actor: CaseActor | None) -> CaseRow | None:
    """The case's row if it exists and the caller may read it; None either way otherwise."""
    row = session.get(CaseRow, case_id)
    if row is None or not may_read(session, row=row, role=role, actor=actor):
        return None
    return row


def sees_reporter(*, channel: str, holder: str | None, status: str, role: str, actor: CaseActor | None) -> bool:
    """Whether the reader sees the reporter's (masked) contact: the holder of an open case, the channel that took
    it, supervisors. Units that passed it on, assist or were summoned read the case without it, and so does the
    admin, who reads every case as a supervisor does."""
    if role == Role.supervisor.value:
        return True
    if actor is None:
        return False
    if actor.role is Role.channel:
        return channel == actor.id
    return actor.role is Role.unit and actor.unit_id == holder and status != Status.closed


def may_reveal(*, row: CaseRow, role: str, actor: CaseActor | None) -> bool:
    """Who may see the reporter's name and phone (audited): supervisors; the holding unit while the case is open."""
    if role == Role.supervisor.value:
        return True
    return (
        actor is not None
        and actor.role is Role.unit
        and actor.unit_id == row.holder
        and row.status != Status.closed.value
    )


# ------------------------------------------------------------------------------------------ lists


def list_cases(
    session: Session,
    *,
    channel: str | None = None,
    filters: dict[str, Any],
    reported_from: datetime | None = None,
    reported_to: datetime | None = None,
    offset: int = 0,
    limit: int = 50,
) -> tuple[list[CaseRow], int]:
    """Cases newest first, by column equality (`filters`: status, holder, tier, category, overdue)."""
    where: list[Any] = [getattr(CaseRow, name) == value for name, value in filters.items() if value is not None]
    if channel is not None:
        where.append(CaseRow.channel == channel)
    if reported_from is not None:
        where.append(col(CaseRow.reported_at) >= reported_from)
    if reported_to is not None:
        where.append(col(CaseRow.reported_at) < reported_to)
    count = session.exec(select(func.count()).select_from(CaseRow).where(*where)).one()
    rows = session.exec(
        select(CaseRow).where(*where).order_by(col(CaseRow.reported_at).desc()).offset(offset).limit(limit)
    ).all()
    return list(rows), count


def timeline(session: Session, *, case_id: str) -> list[CaseEvent]:
    rows = session.exec(select(EventRow).where(EventRow.case_id == case_id).order_by(col(EventRow.seq))).all()
    return [
        CaseEvent(
            seq=r.seq,
            at=r.at,
            kind=EventKind(r.kind),
            actor=r.actor,
            unit_id=r.unit_id,
            tier=Tier(r.tier) if r.tier else None,
            text=r.text,
            data=r.data,
            deadline=DeadlineRef(
                kind=DeadlineKind(r.deadline_kind), unit_id=r.unit_id or "", due_at=r.deadline_due, met=r.deadline_met
            )
            if r.deadline_kind and r.deadline_due
            else None,
        )
        for r in rows
    ]


def pressing(r: CaseRow) -> datetime | None:
    """The limit a case's holder must mind first: one it is already late on, else the next."""
    return r.overdue_since or r.next_deadline


def queue(session: Session, *, unit_id: str, now: datetime) -> Queue:
    """What a unit must do now, soonest due first: cases it holds, decisions it owes, whistles it must answer."""

    def left(due: datetime | None) -> int | None:
        return int((aware(due) - now).total_seconds()) if due else None

    items: list[QueueItem] = []
    held = session.exec(select(CaseRow).where(CaseRow.holder == unit_id, CaseRow.status != Status.closed)).all()
    for r in held:
        todo = TODO.get(Status(r.status))
        # 挂账 stops the clocks: a suspended case has no countdown until it resumes, when its limits move on.
        due = None if r.status == Status.suspended else pressing(r)
        if todo:
            items.append(
                QueueItem(
                    case_id=r.case_id,
                    title=r.title,
                    status=r.status,
                    todo=todo,
                    due_at=due,
                    seconds_left=left(due),
                )
            )
    # A 退单 or 延期 waits for this unit's decision while the holder's clock runs.
    for r in session.exec(select(CaseRow).where(CaseRow.awaiting == unit_id)).all():
        items.append(
            QueueItem(
                case_id=r.case_id,
                title=r.title,
                status=r.status,
                todo="审批退单/延期",
                due_at=pressing(r),
                seconds_left=left(pressing(r)),
            )
        )
    summons = session.exec(
        select(WhistleDepartmentRow, CaseRow.title)
        .join(CaseRow, col(CaseRow.case_id) == col(WhistleDepartmentRow.case_id))
        .where(
            WhistleDepartmentRow.unit_id == unit_id,
            WhistleDepartmentRow.closed == False,  # noqa: E712
            col(WhistleDepartmentRow.released_at).is_(None),
        )
    ).all()
    for w, title in summons:
        todo, due = _summons_todo(w)
        items.append(
            QueueItem(
                case_id=w.case_id,
                title=title,
                status="whistled",
                todo=todo,
                due_at=due,
                seconds_left=left(due),
                whistle=w.n,
            )
        )
    items.sort(key=lambda i: (i.seconds_left is None, i.seconds_left or 0))
    return Queue(unit_id=unit_id, data=items, count=len(items))


def _summons_todo(w: WhistleDepartmentRow) -> tuple[str, datetime | None]:
    if w.checked_in_at is None:
        return "报到", w.report_due
    if w.contacted_at is None:
        return "与吹哨单位对接", w.contact_due
    return "协同办理（事不完、人不撤）", w.finish_due


# ------------------------------------------------------------------------------------------ records


def whistle(session: Session, *, case_id: str, n: int, directory: Directory) -> WhistleRecord | None:
    rows = session.exec(
        select(WhistleDepartmentRow)
        .where(WhistleDepartmentRow.case_id == case_id, WhistleDepartmentRow.n == n)
        .order_by(col(WhistleDepartmentRow.unit_id))
    ).all()
    if not rows:
        return None
    first = rows[0]

    def name(unit_id: str) -> str:
        unit = directory.get(unit_id)
        return unit.name if unit else unit_id

    return WhistleRecord(
        case_id=case_id,
        n=n,
        kind=first.kind,
        whistler=first.whistler,
        summoned_at=first.summoned_at,
        closed=all(r.closed for r in rows),
        departments=[
            SummonedDepartment(
                unit_id=r.unit_id,
                name=name(r.unit_id),
                report_due=r.report_due,
                checked_in_at=r.checked_in_at,
                report_in_time=r.report_in_time,
                contact_due=r.contact_due,
                contacted_at=r.contacted_at,
                finish_due=r.finish_due,
                released_at=r.released_at,
                rated_at=r.rated_at,
                speed=r.speed,
                cooperation=r.cooperation,
                result=r.result,
            )
            for r in rows
        ],
    )


def reveals(session: Session, *, case_id: str) -> list[RevealRecord]:
    rows = session.exec(select(RevealAudit).where(RevealAudit.case_id == case_id).order_by(col(RevealAudit.at))).all()
    return [
        RevealRecord(case_id=r.case_id, actor=r.actor, unit_id=r.unit_id, at=r.at, request_id=r.request_id)
        for r in rows
    ]


def record_reveal(
    session: Session, *, case_id: str, reporter_ref: str, actor: CaseActor, request_id: str | None
) -> None:
    session.add(
        RevealAudit(
            case_id=case_id,
            reporter_ref=reporter_ref,
            actor=actor.label(),
            unit_id=actor.unit_id,
            at=datetime.now(UTC),
            request_id=request_id,
        )
    )
    session.commit()
