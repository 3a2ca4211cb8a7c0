"""退单, its 审核 by the tier above, and 改派 by a supervisor: a case that is at the wrong unit moves on."""

from __future__ import annotations

from models import payloads as pl
from models.case import PendingReturn, Status
from models.errors import ErrorCode
from models.inputs import Actor, RedispatchAction, ReturnAction, ReturnDecision
from models.timeline import EventKind
from rules.routing import approver
from workflows import case_texts as say
from workflows.case_context import CaseContext
from workflows.case_steps.base import Step, known_units, no_whistle, works_cases
from workflows.common import reject


def _guard_return(c: CaseContext, actor: Actor) -> None:
    no_whistle(c, "退单")


async def _return(c: CaseContext, a: ReturnAction) -> None:
    holder = c.holder
    to = approver(c.policy.directory, holder)
    c.s.pending_return = PendingReturn(unit_id=holder, previous=c.s.status, reason=a.reason, approver=to)
    c.s.status = Status.return_pending
    c.event(EventKind.return_, a.actor, holder, say.return_asked(c, a.reason, to))


def _check_decision(c: CaseContext, a: ReturnDecision) -> None:
    if not a.approve:
        return
    if not a.to_unit:
        raise reject(ErrorCode.missing_field, "同意退单时须指定改派单位（to_unit）")
    works_cases(known_units(c, a), a.to_unit)
    assert c.s.pending_return is not None
    if a.to_unit == c.s.pending_return.unit_id:
        raise reject(ErrorCode.invalid_input, "改派单位不能是退单单位本身")


async def _decide(c: CaseContext, a: ReturnDecision) -> None:
    pending = c.s.pending_return
    assert pending is not None
    c.s.pending_return = None
    if a.approve and a.to_unit:
        c.learn(a.units)
        c.event(
            EventKind.return_approved,
            a.actor,
            pending.unit_id,
            say.return_approved(c, pending.unit_id, a.to_unit, a.reason),
            data=pl.Moved(to=a.to_unit),
        )
        await c.assign(a.to_unit, c.tier_of(a.to_unit))
    else:
        c.s.status = pending.previous
        c.event(EventKind.return_refused, a.actor, pending.unit_id, say.return_refused(c, pending.unit_id, a.reason))


def _guard_redispatch(c: CaseContext, actor: Actor) -> None:
    no_whistle(c, "改派")


def _check_redispatch(c: CaseContext, a: RedispatchAction) -> None:
    works_cases(known_units(c, a), a.to_unit)
    if a.to_unit == c.s.holder:
        raise reject(ErrorCode.invalid_input, "改派单位与当前承办单位相同")


async def _redispatch(c: CaseContext, a: RedispatchAction) -> None:
    c.s.pending_return = None
    c.learn(a.units)
    c.event(
        EventKind.redispatch,
        a.actor,
        a.to_unit,
        say.redispatched(c, a.to_unit, a.reason),
        data=pl.Moved(to=a.to_unit, from_unit=c.s.holder),
    )
    await c.assign(a.to_unit, c.tier_of(a.to_unit))


RETURN = Step(_return, guard=_guard_return)
DECIDE_RETURN = Step(_decide, check=_check_decision)
REDISPATCH = Step(_redispatch, guard=_guard_redispatch, check=_check_redispatch)
