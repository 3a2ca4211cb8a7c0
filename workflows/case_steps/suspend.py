"""挂账 and 恢复: seasonal or engineering work stops the clocks; on resume every open deadline moves on."""

from __future__ import annotations

from temporalio import workflow

from models.case import Status
from models.inputs import Actor, ResumeAction, SuspendAction
from models.timeline import DeadlineKind, EventKind
from workflows import case_texts as say
from workflows.case_context import CaseContext
from workflows.case_steps.base import Step, no_whistle


def _guard_suspend(c: CaseContext, actor: Actor) -> None:
    no_whistle(c, "挂账")


async def _suspend(c: CaseContext, a: SuspendAction) -> None:
    c.s.suspended_from, c.s.suspended_at = c.s.status, workflow.now()
    c.s.status = Status.suspended
    c.event(EventKind.suspend, a.actor, c.s.holder, say.suspended(c, a.reason, a.actor.unit_id))


async def _resume(c: CaseContext, a: ResumeAction) -> None:
    assert c.s.suspended_at is not None and c.s.suspended_from is not None
    paused = workflow.now() - c.s.suspended_at
    c.book.shift(paused)
    c.s.status, c.s.suspended_at, c.s.suspended_from = c.s.suspended_from, None, None
    reply = c.book.find(DeadlineKind.reply)
    c.event(EventKind.resume, a.actor, c.s.holder, say.resumed(c, paused, a.reason, a.actor.unit_id, reply))


SUSPEND = Step(_suspend, guard=_guard_suspend)
RESUME = Step(_resume)
