"""A whistle's state and its steps: 报到 and 对接 by each summoned department, 撤离 and 双考核 by the whistler,
and the timer points of the departments' deadlines. Every step is told to the parent case, which keeps the one
timeline.
"""

from __future__ import annotations

import asyncio
from datetime import datetime
from typing import Any, TypeVar

from temporalio import workflow
from temporalio.exceptions import ApplicationError

from models import payloads as pl
from models.actions import CONTACT, RATE_DEPARTMENTS, RELEASE, REPORT, WHISTLE_ACTIONS, ActionName, ActionSpec, Who
from models.errors import ErrorCode
from models.inputs import Action, Actor, ContactAction, RateDepartmentsAction, ReleaseAction, ReportAction, Role
from models.io import WhistleNote
from models.timeline import CaseEvent, DeadlineKind, DeadlineRef, EventKind
from models.whistle import DepartmentState, WhistleInput, WhistleState, WhistleView
from workflows import whistle_texts as say
from workflows.case_texts import Line
from workflows.common import bind_update, plan, reject
from workflows.deadlines import DeadlineBook, Point, ref
from workflows.timer import MovableTimer

A = TypeVar("A", bound=Action)
WHISTLE_DEADLINES = (DeadlineKind.report, DeadlineKind.contact, DeadlineKind.finish)
ABSENT_RELEASE_PATCH = "whistle-releases-a-department-that-never-reported"


class WhistleContext:
    def __init__(self, inp: WhistleInput) -> None:
        self.inp = inp
        self.s = WhistleState(departments={d: DepartmentState(unit_id=d) for d in inp.departments})
        self.book = DeadlineBook(self.s.deadlines)
        self.lock = asyncio.Lock()
        # A whistle of rule set 2 (its case planned it) keeps a timer whose point did not move.
        self.timer = MovableTimer(keep=inp.planned is not None)
        self.told: list[WhistleNote] = []
        """Lines for the case not yet sent (`notes_per_task`): one signal per workflow task, not one per line."""

    def dept(self, unit_id: str) -> DepartmentState:
        return self.s.departments[unit_id]

    def name(self, unit_id: str) -> str:
        """A unit as a person reads it (refusals, like the timeline, name units, not their ids)."""
        return say.name(self.inp, unit_id)

    async def tell(
        self,
        kind: EventKind,
        unit_id: str | None,
        line: Line,
        *,
        actor: str = "system",
        data: pl.EventData | None = None,
        deadline: DeadlineRef | None = None,
    ) -> None:
        """Hand the event to the parent case, whose seq orders the timeline (at `flush`, if `notes_per_task`)."""
        event = CaseEvent(
            seq=0,
            at=workflow.now(),
            kind=kind,
            actor=actor,
            unit_id=unit_id,
            text=line.text,
            data=data or pl.WhistleStep(whistle=self.inp.n),
            deadline=deadline,
        )
        note = WhistleNote(n=self.inp.n, event=event, notices=list(line.notices))
        if self.inp.notes_per_task:
            self.told.append(note)
        else:
            await workflow.get_external_workflow_handle(self.inp.case_id).signal("whistle_note", note)

    async def flush(self) -> None:
        """Send the case what this task told it, in one signal: each signal costs the case a workflow task and
        a projection, and departments summoned together reach their deadline points together."""
        if self.told:
            notes, self.told = self.told, []
            await workflow.get_external_workflow_handle(self.inp.case_id).signal("whistle_notes", notes)

    def view(self) -> WhistleView:
        return WhistleView(
            case_id=self.inp.case_id,
            n=self.inp.n,
            kind=self.inp.kind,
            whistler=self.inp.whistler,
            departments=list(self.s.departments.values()),
            deadlines=self.s.deadlines,
            done=self.s.rated,
        )


# ------------------------------------------------------------------------------------------ summons and timer points


async def summon(w: WhistleContext) -> None:
    # The case plans the deadlines when it whistles (so its read model knows them); older whistles plan here.
    start, plans = w.inp.planned_at, w.inp.planned
    if start is None or plans is None:
        start, limits = workflow.now(), w.inp.limits
        plans = await plan(
            [(start, limits.report), (start, limits.contact), (start, limits.finish)],
            w.inp.calendar,
            w.inp.supervision,
            w.inp.workdays,
        )
    for d in w.inp.departments:
        for kind, planned in zip(WHISTLE_DEADLINES, plans, strict=True):
            w.book.add(kind, d, start, planned)
    w.s.ready = True


async def fire_due(w: WhistleContext) -> None:
    for item in w.book.due(workflow.now()):
        d = item.deadline
        if item.point is Point.urge:
            await w.tell(EventKind.urge, d.unit_id, say.urged(w.inp, d), deadline=ref(d))
        elif item.point is Point.miss:
            if d.kind is DeadlineKind.report:
                w.dept(d.unit_id).late_report = True
            await w.tell(EventKind.overdue, d.unit_id, say.overdue(w.inp, d), deadline=ref(d))
        else:
            await w.tell(EventKind.public_notice, d.unit_id, say.publicly_noticed(w.inp, d), deadline=ref(d))
    await w.flush()


# ------------------------------------------------------------------------------------------ who may act, and when


def _releasable(d: DepartmentState) -> bool:
    """The whistler releases a department that reported, or one that let its 报到 limit pass without reporting:
    事不完、人不撤 keeps the departments that came; one that never came cannot hold the whistle, and its case,
    forever (its miss stands)."""
    return d.released_at is None and (d.checked_in_at is not None or d.late_report)


def _summoned(w: WhistleContext, spec: ActionSpec[Any], actor: Actor) -> DepartmentState:
    dept = w.s.departments.get(actor.unit_id or "")
    if actor.role is not Role.unit or dept is None:
        raise reject(ErrorCode.wrong_actor, f"只有被召集的部门可以{spec.verb}")
    return dept


def _guard(w: WhistleContext, spec: ActionSpec[Any], actor: Actor) -> None:
    """The whistle's rules for each action, apart from the action's input."""
    if not w.s.ready:
        raise reject(ErrorCode.not_ready, "吹哨正在启动，请稍后再试")
    if spec.who is Who.whistler and (actor.role is not Role.unit or actor.unit_id != w.inp.whistler):
        raise reject(ErrorCode.wrong_actor, f"只有吹哨单位（{w.name(w.inp.whistler)}）可以{spec.verb}")
    if spec is REPORT:
        dept = _summoned(w, spec, actor)
        if dept.checked_in_at is not None:
            raise reject(ErrorCode.duplicate_request, "已报到，无需重复报到")
        if dept.released_at is not None:
            raise reject(ErrorCode.wrong_state, "吹哨单位已解除召集，无需再报到")
    if spec is CONTACT:
        dept = _summoned(w, spec, actor)
        if dept.checked_in_at is None:
            raise reject(ErrorCode.wrong_state, "请先报到")
        if dept.released_at is not None:
            raise reject(ErrorCode.wrong_state, "吹哨单位已确认撤离，无需再对接")
        if dept.contacted_at is not None:
            raise reject(ErrorCode.duplicate_request, "已对接，无需重复提交")
    if spec is RELEASE and not any(_releasable(d) for d in w.s.departments.values()):
        raise reject(ErrorCode.wrong_state, "没有已报到（或报到超期）、待确认撤离的部门")
    if spec is RATE_DEPARTMENTS:
        if w.s.rated:
            raise reject(ErrorCode.duplicate_request, "已评价")
        waiting = [w.name(d.unit_id) for d in w.s.departments.values() if d.released_at is None]
        if waiting:
            raise reject(ErrorCode.wrong_state, f"事不完、人不撤：{'、'.join(waiting)}尚未确认撤离")


def _check(w: WhistleContext, a: Action) -> None:
    if isinstance(a, ReleaseAction):
        dept = w.s.departments.get(a.department)
        if dept is None:
            raise reject(ErrorCode.unknown_unit, f"{a.department}不在本次吹哨召集之列")
        if dept.released_at is not None:
            raise reject(ErrorCode.duplicate_request, f"{w.name(a.department)}已确认撤离")
        if not _releasable(dept):
            raise reject(ErrorCode.wrong_state, f"{w.name(a.department)}尚未报到，报到时限届满前不能确认撤离")
    if isinstance(a, RateDepartmentsAction) and sorted(r.department for r in a.ratings) != sorted(w.s.departments):
        raise reject(ErrorCode.invalid_input, "须对每个被召集部门各评价一次")


def validate(w: WhistleContext, spec: ActionSpec[Any], a: Action) -> None:
    _guard(w, spec, a.actor)
    _check(w, a)


def available(w: WhistleContext, actor: Actor) -> list[ActionName]:
    names = []
    for spec in WHISTLE_ACTIONS:
        try:
            _guard(w, spec, actor)
        except ApplicationError:
            continue
        names.append(spec.name)
    return names


# ------------------------------------------------------------------------------------------ the steps


async def report(w: WhistleContext, a: ReportAction) -> None:
    unit = a.actor.unit_id or ""
    w.dept(unit).checked_in_at = workflow.now()
    closed = w.book.close(workflow.now(), DeadlineKind.report, unit_id=unit)
    late = bool(closed and closed[0].missed)
    await w.tell(
        EventKind.report,
        unit,
        say.reported(w.inp, unit, late),
        actor=a.actor.label(),
        deadline=ref(closed[0]) if closed else None,
    )


async def contact(w: WhistleContext, a: ContactAction) -> None:
    unit = a.actor.unit_id or ""
    w.dept(unit).contacted_at = workflow.now()
    closed = w.book.close(workflow.now(), DeadlineKind.contact, unit_id=unit)
    await w.tell(
        EventKind.contact,
        unit,
        say.contacted(w.inp, unit, a.note),
        actor=a.actor.label(),
        deadline=ref(closed[0]) if closed else None,
    )


async def release(w: WhistleContext, a: ReleaseAction) -> None:
    now, dept = workflow.now(), w.dept(a.department)
    if dept.checked_in_at is None and workflow.patched(ABSENT_RELEASE_PATCH):
        await _dismiss(w, a, now)
        return
    dept.released_at = now
    # A 对接 never made is ended by the release, not met by it.
    w.book.close(now, DeadlineKind.contact, unit_id=a.department, cancel=dept.contacted_at is None)
    closed = w.book.close(now, DeadlineKind.finish, unit_id=a.department)
    finish = closed[0] if closed else None
    await w.tell(
        EventKind.release,
        a.department,
        say.released(w.inp, a.department, a.note),
        actor=a.actor.label(),
        deadline=ref(finish) if finish else None,
    )


async def _dismiss(w: WhistleContext, a: ReleaseAction, now: datetime) -> None:
    """A department that never reported, its 报到 limit missed, released: its deadlines end, the missed ones
    standing as missed (no 通报 follows), the others neither met nor missed."""
    w.dept(a.department).released_at = now
    w.book.close(now, *WHISTLE_DEADLINES, unit_id=a.department, cancel=True)
    await w.tell(EventKind.release, a.department, say.dismissed(w.inp, a.department, a.note), actor=a.actor.label())


async def rate(w: WhistleContext, a: RateDepartmentsAction) -> None:
    for r in a.ratings:
        w.dept(r.department).rating = r
    w.s.rated = True
    scores = {r.department: f"{r.speed}/{r.cooperation}/{r.result}" for r in a.ratings}
    await w.tell(
        EventKind.rate_departments,
        w.inp.whistler,
        say.departments_rated(w.inp, scores),
        actor=a.actor.label(),
        data=pl.DepartmentsRated(whistle=w.inp.n, ratings=a.ratings),
    )
    # Told inside the update (`act` flushes before it answers), so the case knows the whistle is over before the
    # whistler's next request.
    await w.tell(EventKind.whistle_closed, None, say.whistle_closed(w.inp))


STEPS: dict[ActionName, Any] = {
    ActionName.report: report,
    ActionName.contact: contact,
    ActionName.release: release,
    ActionName.rate_departments: rate,
}


async def act(w: WhistleContext, spec: ActionSpec[Any], a: Action) -> WhistleView:
    async with w.lock:
        validate(w, spec, a)
        await STEPS[spec.name](w, a)
        await w.flush()
    w.timer.poke()
    return w.view()


_UPDATES = {s.name: bind_update(s, act, validate, WhistleView) for s in WHISTLE_ACTIONS}


def whistle_update(spec: ActionSpec[A]) -> workflow.UpdateMethodMultiParam[[Any, A], WhistleView]:
    """The whistle's update for a registry row, built once per process (see `workflows.acting.case_update`)."""
    return _UPDATES[spec.name]
