"""待督办改派: a case whose street ran out of time (no whistle, no reply) waits for the supervisor, who 改派 it
to a department (`returns.REDISPATCH`), gives the street more time (督办延期, here), or strikes it off
(`oversight.CLOSE`). A city may keep such a case at its street instead (policy `supervision.after_street`)."""

from __future__ import annotations

from temporalio import workflow

from models.case import Status, StuckAt
from models.inputs import SYSTEM, ExtendAction
from models.policy import AfterStreet, Tier
from models.timeline import DeadlineKind, EventKind
from workflows import case_texts as say
from workflows.case_context import CaseContext
from workflows.case_steps.base import Step
from workflows.deadlines import ref


def goes_to_supervisor(c: CaseContext, unit_id: str) -> bool:
    """Rule set 2: a street's slice that runs out sends the case on, unless the city keeps it at the street."""
    after = c.policy.supervision.after_street
    return c.charged and c.tier_of(unit_id) is Tier.street and after is AfterStreet.supervisor


def to_supervisor(c: CaseContext, unit_id: str) -> None:
    supervisor = c.policy.directory.supervisor.id
    c.s.stuck_at = StuckAt(unit_id=unit_id, status=c.s.status)
    c.hold(supervisor, Tier.district, Status.to_redispatch)
    c.event(EventKind.to_supervisor, SYSTEM, supervisor, say.street_out_of_time(c, unit_id, supervisor))


async def _extend(c: CaseContext, a: ExtendAction) -> None:
    stuck = c.s.stuck_at
    assert stuck is not None
    now = workflow.now()
    reply = c.book.find(DeadlineKind.reply)
    moves = [(now, a.amount)] + ([(reply.due_at, a.amount)] if reply and not reply.missed else [])
    plans = await c.plan(*moves)
    c.s.stuck_at = None
    c.hold(stuck.unit_id, Tier.street, stuck.status)
    c.book.add(DeadlineKind.tier, stuck.unit_id, now, plans[0])
    if reply is not None and len(plans) == 2:
        reply.due_at, reply.notice_at, reply.urged = plans[1].due_at, plans[1].notice_at, False
        reply.urge_at = reply.started_at + (plans[1].due_at - reply.started_at) * c.policy.supervision.urge_fraction
    c.event(
        EventKind.extension_approved,
        a.actor,
        stuck.unit_id,
        say.extended_by_supervisor(c, stuck.unit_id, a.amount, a.reason, reply),
        deadline=ref(reply) if reply else None,
    )
    if stuck.status is Status.dispatched:
        # Back at a street that never signed: an arrival, which 响应率 counts with the sign that answers it.
        (sign,) = await c.plan((now, c.policy.limits.sign))
        c.book.add(DeadlineKind.sign, stuck.unit_id, now, sign)
        c.event(EventKind.dispatch, SYSTEM, stuck.unit_id, say.assigned(c, stuck.unit_id))


EXTEND = Step(_extend)
