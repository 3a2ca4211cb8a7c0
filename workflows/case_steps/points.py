"""The timer points of a case's deadlines: 催办 before a limit, 超期 and 督办 when it is missed, 通报 when the
unit is still overdue after that, and what a missed limit sets in motion (自动上报, 未评价销号)."""

from __future__ import annotations

from temporalio import workflow

from models.case import SYSTEM, Deadline, DeadlineKind, EventKind, Status
from policy.routing import next_tier
from workflows import case_texts as say
from workflows.case_context import CaseContext
from workflows.case_steps import rating
from workflows.deadlines import Point, ref


async def fire_due(c: CaseContext) -> None:
    if c.s.status in (Status.closed, Status.suspended):
        return
    for item in c.book.due(workflow.now()):
        d = item.deadline
        if not d.open:  # an earlier point in this batch closed it
            continue
        if item.point is Point.urge:
            c.event(EventKind.urge, SYSTEM, d.unit_id, say.urged(c, d), deadline=ref(d))
        elif item.point is Point.miss:
            c.event(EventKind.overdue, SYSTEM, d.unit_id, say.overdue(c, d), deadline=ref(d))
            c.event(EventKind.supervise, SYSTEM, d.unit_id, say.supervised_overdue(c, d))
            await _missed(c, d)
        else:
            c.event(EventKind.public_notice, SYSTEM, d.unit_id, say.publicly_noticed(c, d), deadline=ref(d))
    await c.project()


async def _missed(c: CaseContext, d: Deadline) -> None:
    if d.kind is DeadlineKind.tier and d.unit_id == c.s.holder:
        above = next_tier(c.policy.directory, d.unit_id)
        if above is not None:
            c.event(
                EventKind.auto_escalate,
                SYSTEM,
                d.unit_id,
                say.auto_escalated(c, d.unit_id, above.name),
                data={"to": above.id},
                deadline=ref(d),
            )
            await c.assign(above.id, above.tier)
    elif d.kind is DeadlineKind.rating:
        await rating.window_passed(c)
