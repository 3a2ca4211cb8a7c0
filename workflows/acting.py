"""How a case takes an action: the registry's row (who, in which states), the step's own guard and input check,
then the step, under the case's lock, projected once.

The same checks answer two questions: the validator's "may this request go ahead" (a refusal reaches no
history) and the console's "which actions may this person take now" (`available`).
"""

from __future__ import annotations

from typing import Any, TypeVar

from temporalio import workflow
from temporalio.exceptions import ApplicationError

from models.actions import CASE_ACTIONS, ActionName, ActionSpec, Who
from models.case import STATUS_LABEL, CaseView, Status
from models.errors import ErrorCode
from models.inputs import Action, Actor, Role
from workflows.case_context import CaseContext
from workflows.case_steps import STEPS
from workflows.common import bind_update, reject

A = TypeVar("A", bound=Action)


def _live(c: CaseContext) -> None:
    if c.s.status is Status.closed:
        raise reject(ErrorCode.case_closed, "该诉求已销号，不能再操作")
    if c.s.status is Status.intake:
        raise reject(ErrorCode.not_ready, "该诉求正在受理派单，请稍后再试")


def _wrong_state(c: CaseContext, spec: ActionSpec[Any]) -> ApplicationError:
    return reject(ErrorCode.wrong_state, f"当前状态为“{STATUS_LABEL[c.s.status]}”，不能{spec.verb}")


def _approver(c: CaseContext, spec: ActionSpec[Any], actor: Actor, approver: str) -> None:
    if actor.role is Role.supervisor:
        return
    if actor.role is not Role.unit or actor.unit_id != approver:
        raise reject(ErrorCode.wrong_actor, f"只有{c.name(approver)}或督办人员可以{spec.verb}")


def _holder(c: CaseContext, spec: ActionSpec[Any], actor: Actor) -> None:
    if actor.role is not Role.unit or actor.unit_id != c.s.holder:
        raise reject(ErrorCode.wrong_actor, f"只有当前承办单位（{c.name(c.s.holder)}）可以{spec.verb}")


def _who(c: CaseContext, spec: ActionSpec[Any], actor: Actor) -> None:
    match spec.who:
        case Who.holder:
            _holder(c, spec, actor)
        case Who.holder_or_supervisor:
            if actor.role is not Role.supervisor:
                _holder(c, spec, actor)
        case Who.supervisor:
            if actor.role is not Role.supervisor:
                raise reject(ErrorCode.wrong_actor, f"只有督办人员可以{spec.verb}")
        case Who.channel:
            if actor.role is not Role.channel or actor.id != c.s.intake.channel:
                raise reject(
                    ErrorCode.wrong_actor, f"只有受理该诉求的渠道（{c.s.intake.channel}）可以代群众{spec.verb}"
                )
        case Who.return_approver:
            if c.s.pending_return is None:
                raise _wrong_state(c, spec)
            _approver(c, spec, actor, c.s.pending_return.approver)
        case Who.extension_approver:
            if c.s.pending_extension is None:
                raise reject(ErrorCode.wrong_state, "没有待审批的延期申请")
            _approver(c, spec, actor, c.s.pending_extension.approver)
        case _:
            raise AssertionError(f"{spec.name} is not a case action")


def allowed(c: CaseContext, spec: ActionSpec[Any], actor: Actor) -> None:
    """May `actor` take this action on the case now, whatever the input? Raises the refusal if not."""
    _live(c)
    _who(c, spec, actor)
    if c.s.status not in spec.states:
        raise _wrong_state(c, spec)
    STEPS[spec.name].guard(c, actor)


def validate(c: CaseContext, spec: ActionSpec[A], a: A) -> None:
    _live(c)
    if a.request_id and a.request_id in c.s.request_ids:
        raise reject(ErrorCode.duplicate_request, "重复提交：该请求已处理")
    allowed(c, spec, a.actor)
    STEPS[spec.name].check(c, a)


def available(c: CaseContext, actor: Actor) -> list[ActionName]:
    """The actions `actor` may take on the case now, in the registry's order."""
    names = []
    for spec in CASE_ACTIONS:
        try:
            allowed(c, spec, actor)
        except ApplicationError:  # refused: not offered
            continue
        names.append(spec.name)
    return names


async def act(c: CaseContext, spec: ActionSpec[A], a: A) -> CaseView:
    async with c.lock:
        # Again under the lock: another update may have changed the case while this one waited.
        validate(c, spec, a)
        await STEPS[spec.name].apply(c, a)
        c.remember(a.request_id)
        await c.project()
    c.timer.poke()
    return c.view()


_UPDATES: dict[ActionName, workflow.UpdateMethodMultiParam[[Any, Any], CaseView]] = {
    s.name: bind_update(s, act, validate, CaseView) for s in CASE_ACTIONS
}


def case_update(spec: ActionSpec[A]) -> workflow.UpdateMethodMultiParam[[Any, A], CaseView]:
    """The workflow update for a registry row, with its validator. Built once per process when this module is
    imported (it is passed through the sandbox), so the sandbox does not build and inspect 18 handlers again
    for every case it runs."""
    return _UPDATES[spec.name]
