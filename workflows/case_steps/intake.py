"""受理 and 派单: the case takes its policy snapshot and routing, records its intake and goes to its lead unit."""

from __future__ import annotations

from temporalio import workflow
from temporalio.exceptions import ActivityError, ApplicationError

from models import payloads as pl
from models.case import OpenCaseResult, Outcome
from models.inputs import SYSTEM, Actor, Role
from models.io import OpenCaseInput
from models.timeline import DeadlineKind, EventKind
from workflows import case_texts as say
from workflows.case_context import CaseContext
from workflows.common import ACTIVITY_RETRY, ACTIVITY_TIMEOUT
from workflows.deadlines import ref

CLASS_LIMIT_PATCH = "whole-case-limit-of-the-filed-class"


async def receive(c: CaseContext, opened: OpenCaseResult | None) -> None:
    now = workflow.now()
    intake = c.s.intake
    if opened is None:
        # Started without the 受理 service's snapshot (a direct start, or a case from before it took one).
        try:
            opened = await workflow.execute_local_activity(
                "open_case",
                OpenCaseInput(case_id=c.s.case_id, intake=intake),
                result_type=OpenCaseResult,
                start_to_close_timeout=ACTIVITY_TIMEOUT,
                retry_policy=ACTIVITY_RETRY,
            )
        except (ActivityError, ApplicationError) as err:
            # The 受理 service validates category and grid first; this guards a direct start with bad data.
            c.event(EventKind.reject, SYSTEM, None, say.not_admissible(err.cause or err))
            await c.close(Outcome.rejected, SYSTEM, "无法受理，销号")
            await c.project()
            return
    c.s.policy, c.s.routing = opened.policy, opened.routing
    p, routing = opened.policy, opened.routing
    reply_limit = p.category.reply_limit or p.limits.reply
    in_class = p.category.whole_case_limit(p.urgency, p.limits)
    if in_class != reply_limit and workflow.patched(CLASS_LIMIT_PATCH):
        reply_limit = in_class  # filed in another class than its category's (cases before replay as recorded)
    dispatch_plan, reply_plan = await c.plan((intake.reported_at, p.limits.dispatch), (now, reply_limit))
    c.event(
        EventKind.intake,
        Actor(role=Role.channel, id=intake.channel),
        None,
        say.intake(c, p.category.name),
        data=pl.Intake(category=p.category.id, urgency=p.urgency, policy=p.version),
    )
    dispatch = c.book.add(DeadlineKind.dispatch, p.directory.supervisor.id, intake.reported_at, dispatch_plan)
    dispatch.closed_at = now
    dispatch.missed = now > dispatch.due_at
    reply = c.book.add(DeadlineKind.reply, routing.lead, now, reply_plan)
    # One dispatch event per arrival at a unit: the 响应率 counts signs against these.
    c.event(
        EventKind.dispatch,
        SYSTEM,
        routing.lead,
        say.dispatched(c, routing, reply.due_at, reply_limit),
        data=pl.Dispatch(rule=routing.rule, assisting=routing.assisting, reply_due=reply.due_at),
        deadline=ref(dispatch),
    )
    await c.assign(routing.lead, routing.tier, announce=False)
    await c.project()
