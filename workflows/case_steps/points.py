"""The timer points of a case's deadlines: 催办 before a limit, 超期 and 督办 when it is missed, 通报 when the
unit is still overdue after that, and what a missed limit sets in motion (自动上报, 待督办改派, 未评价销号).

Every point goes to the unit the deadline names when it fires; the whole-case 办结 limit names whoever holds the
case (rule set 2), so its 催办, 督办 and 通报 reach the unit that has it then.
"""

from __future__ import annotations

from temporalio import workflow

from models import payloads as pl
from models.case import Status
from models.inputs import SYSTEM
from models.timeline import Deadline, DeadlineKind, EventKind
from rules.routing import next_tier
from workflows import case_texts as say
from workflows.case_context import CaseContext
from workflows.case_steps import rating, supervisor_queue
from workflows.deadlines import Point, ref

WHISTLER_LEADS_PATCH = "whistler-leads-past-its-slice"


async def fire_due(c: CaseContext) -> None:
    if c.s.status in (Status.closed, Status.suspended):
        return
    for item in c.book.due(workflow.now()):
        d = item.deadline
        if not d.open:  # an earlier point in this batch closed it
            continue
        if d.kind is DeadlineKind.rating and c.charged:
            await _rating_window(c, d, item.point)
        elif item.point is Point.urge:
            c.event(EventKind.urge, SYSTEM, d.unit_id, say.urged(c, d), deadline=ref(d))
        elif item.point is Point.miss:
            d.missed_by = d.unit_id
            leads = _whistler_leads(c, d)
            moves_to = None if leads else _moves_to(c, d)
            c.event(EventKind.overdue, SYSTEM, d.unit_id, say.overdue(c, d), deadline=ref(d))
            line = say.supervised_overdue(c, d, whistler_leads=leads, moves_to=moves_to)
            c.event(EventKind.supervise, SYSTEM, d.unit_id, line)
            if not leads:
                await _missed(c, d)
        else:
            c.event(EventKind.public_notice, SYSTEM, d.unit_id, say.publicly_noticed(c, d), deadline=ref(d))
    await c.project()


async def _rating_window(c: CaseContext, d: Deadline, point: Point) -> None:
    """The resident's window: a reminder through the channel before it ends; no unit is urged or charged."""
    if point is Point.urge:
        c.event(EventKind.remind, SYSTEM, None, say.rating_reminder(c, d.due_at))
    elif point is Point.miss:
        d.missed = False  # nobody missed it: the case closes as 未评价
        await rating.window_passed(c)


def _whistler_leads(c: CaseContext, d: Deadline) -> bool:
    """A slice that runs out while its holder leads a whistle moves nothing: the whistler stays the lead until
    the departments it summoned are released (DOMAIN.md, 吹哨), charged with its miss. So does a street's that
    whistled: the supervisor's queue is for a street that neither whistled nor replied. A case that ran the other
    way before this rule replays as recorded (`WHISTLER_LEADS_PATCH`)."""
    if d.kind is not DeadlineKind.tier or d.unit_id != c.s.holder:
        return False
    if next_tier(c.policy.directory, d.unit_id) is not None:
        leads = c.s.active_whistle is not None
    else:
        whistled = any(w.whistler == d.unit_id for w in c.s.whistles)
        leads = whistled and supervisor_queue.goes_to_supervisor(c, d.unit_id)
    return leads and workflow.patched(WHISTLER_LEADS_PATCH)


def _moves_to(c: CaseContext, d: Deadline) -> str | None:
    """Where a missed limit sends the case (`_missed`): the tier above, or the supervisor's queue; None if it
    stays."""
    if d.kind is not DeadlineKind.tier or d.unit_id != c.s.holder:
        return None
    above = next_tier(c.policy.directory, d.unit_id)
    if above is not None:
        return above.id
    return c.policy.directory.supervisor.id if supervisor_queue.goes_to_supervisor(c, d.unit_id) else None


async def _missed(c: CaseContext, d: Deadline) -> None:
    if d.kind is DeadlineKind.tier and d.unit_id == c.s.holder:
        above = next_tier(c.policy.directory, d.unit_id)
        if above is not None:
            c.event(
                EventKind.auto_escalate,
                SYSTEM,
                d.unit_id,
                say.auto_escalated(c, d.unit_id, above.name),
                data=pl.Moved(to=above.id),
                deadline=ref(d),
            )
            await c.assign(above.id, above.tier)
        elif supervisor_queue.goes_to_supervisor(c, d.unit_id):
            supervisor_queue.to_supervisor(c, d.unit_id)
    elif d.kind is DeadlineKind.rating:
        await rating.window_passed(c)
