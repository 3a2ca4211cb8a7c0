"""延期: the holder asks for more time before its limit runs out; the tier above (or a supervisor) decides."""

from __future__ import annotations

from temporalio import workflow

from models.case import PendingExtension
from models.errors import ErrorCode
from models.inputs import Actor, ExtensionDecision, ExtensionRequest
from models.timeline import DeadlineKind, EventKind
from rules.routing import approver
from workflows import case_texts as say
from workflows.case_context import CaseContext
from workflows.case_steps.base import Step
from workflows.common import reject
from workflows.deadlines import ref

MISS_STANDS_PATCH = "extension-after-a-miss-is-a-new-limit"


def _guard_request(c: CaseContext, actor: Actor) -> None:
    if c.s.pending_extension is not None:
        raise reject(ErrorCode.already_pending, "已有延期申请待审批")
    reply = c.book.find(DeadlineKind.reply)
    if reply is None or reply.missed or workflow.now() >= reply.due_at:
        raise reject(ErrorCode.too_late, "办结时限已过，不能再申请延期（须在时限届满前申请）")


async def _request(c: CaseContext, a: ExtensionRequest) -> None:
    holder = c.holder
    to = approver(c.policy.directory, holder)
    c.s.pending_extension = PendingExtension(
        requested_by=a.actor.label(), unit_id=holder, amount=a.amount, reason=a.reason, approver=to
    )
    c.event(EventKind.extension_requested, a.actor, holder, say.extension_asked(c, a.amount, a.reason, to))


async def _decide(c: CaseContext, a: ExtensionDecision) -> None:
    pending = c.s.pending_extension
    assert pending is not None
    c.s.pending_extension = None
    if not a.approve:
        c.event(
            EventKind.extension_refused, a.actor, pending.unit_id, say.extension_refused(c, pending.unit_id, a.reason)
        )
        return
    moved = [d for d in c.s.open_deadlines() if d.kind in (DeadlineKind.reply, DeadlineKind.tier)]
    plans = await c.plan(*((d.due_at, pending.amount) for d in moved))
    fraction = c.policy.supervision.urge_fraction
    now = workflow.now()
    for d, extended in zip(moved, plans, strict=True):
        if d.missed and workflow.patched(MISS_STANDS_PATCH):
            # Approved after the limit passed: the miss stands as recorded (its 督办 went out), and the time granted
            # is a limit of its own, from now.
            c.book.close(now, d.kind, unit_id=d.unit_id)
            urge_at = now + (extended.due_at - now) * fraction
            c.book.add(d.kind, d.unit_id, now, extended.model_copy(update={"urge_at": urge_at}))
            continue
        d.due_at, d.notice_at, d.urged = extended.due_at, extended.notice_at, False
        d.urge_at = d.started_at + (extended.due_at - d.started_at) * fraction
    reply = c.book.find(DeadlineKind.reply)
    new_due = c.local(reply.due_at) if reply else "—"
    c.event(
        EventKind.extension_approved,
        a.actor,
        pending.unit_id,
        say.extension_approved(c, pending.unit_id, pending.amount, new_due, pending.reason),
        deadline=ref(reply) if reply else None,
    )


REQUEST_EXTENSION = Step(_request, guard=_guard_request)
DECIDE_EXTENSION = Step(_decide)
