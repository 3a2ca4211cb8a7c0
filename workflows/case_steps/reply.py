"""办结: the holder replies with its result; the resident's rating window opens."""

from __future__ import annotations

from temporalio import workflow

from models import payloads as pl
from models.case import Status
from models.errors import ErrorCode
from models.inputs import Actor, ReplyAction
from models.timeline import DeadlineKind, EventKind
from workflows import case_texts as say
from workflows.case_context import CaseContext
from workflows.case_steps.base import Step
from workflows.common import reject
from workflows.deadlines import ref


def _guard(c: CaseContext, actor: Actor) -> None:
    if c.s.active_whistle is not None:
        raise reject(ErrorCode.whistle_active, "吹哨尚未完结（事不完、人不撤）：请先确认各部门撤离并完成评价")


async def _apply(c: CaseContext, a: ReplyAction) -> None:
    now = workflow.now()
    holder = c.holder
    closed = c.book.close(now, DeadlineKind.sign, DeadlineKind.tier, DeadlineKind.reply)
    reply = next((d for d in closed if d.kind is DeadlineKind.reply), None)
    c.s.status, c.s.replied_by, c.s.reply = Status.replied, holder, a.result
    (rating_plan,) = await c.plan((now, c.policy.rating.window))
    # The window is the resident's (rule set 2); rule set 1 counted it as the replying unit's.
    c.book.add(DeadlineKind.rating, say.REPORTER if c.charged else holder, now, rating_plan)
    c.event(
        EventKind.reply,
        a.actor,
        holder,
        say.replied(c, a.result),
        data=pl.Replied(contacted_reporter=a.contacted_reporter),
        deadline=ref(reply) if reply else None,
    )


REPLY = Step(_apply, guard=_guard)
