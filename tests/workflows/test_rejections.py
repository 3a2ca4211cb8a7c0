"""A wrong actor, a wrong state, bad input, a repeated request: refused in Chinese, nothing written."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from temporalio.api.enums.v1 import EventType
from temporalio.client import Client, WorkflowHandle, WorkflowUpdateFailedError
from temporalio.testing import WorkflowEnvironment

from models.inputs import (
    Actor,
    CloseAction,
    EscalateAction,
    ExtensionDecision,
    ExtensionRequest,
    MergeAction,
    RateAction,
    RedispatchAction,
    RejectAction,
    ReplyAction,
    ResumeAction,
    ReturnAction,
    ReturnDecision,
    Role,
    SignAction,
    SuspendAction,
    WhistleAction,
    WithdrawAction,
)
from models.policy import Limit, LimitUnit, Unit, WhistleKind
from models.timeline import DeadlineKind
from policy import load_policy
from tests.helpers import channel, ready, server_now, start_case, supervisor, unit, whistled_at_street
from workflows.case import CaseWorkflow


async def snapshot(h: WorkflowHandle[CaseWorkflow, Any]) -> tuple[list[Any], str]:
    """What a rejection must not touch: the history's events and the case state.

    The time-skipping server records the bookkeeping of the workflow task that ran the validator (a real
    server drops that speculative task), so those three event types are left out of the comparison.
    """
    history = await h.fetch_history()
    bookkeeping = {
        EventType.EVENT_TYPE_WORKFLOW_TASK_SCHEDULED,
        EventType.EVENT_TYPE_WORKFLOW_TASK_STARTED,
        EventType.EVENT_TYPE_WORKFLOW_TASK_COMPLETED,
    }
    events = [e.event_type for e in history.events if e.event_type not in bookkeeping]
    view = await h.query(CaseWorkflow.view)
    return events, view.model_dump_json()


async def test_every_rejected_update_leaves_history_and_state_untouched(client: Client, ticket: str) -> None:
    h = await start_case(client, ticket)
    await ready(h)
    await h.execute_update(CaseWorkflow.sign, SignAction(actor=unit("grid-a1-1"), request_id="sign-1"))
    attempts: list[tuple[Any, Any, str, str]] = [
        (
            CaseWorkflow.reply,
            ReplyAction(actor=unit("grid-a1-2"), result="别人的工单"),
            "WrongActor",
            "只有当前承办单位",
        ),
        (CaseWorkflow.sign, SignAction(actor=unit("grid-a1-1")), "WrongState", "不能签收"),
        (CaseWorkflow.sign, SignAction(actor=unit("grid-a1-1"), request_id="sign-1"), "DuplicateRequest", "重复提交"),
        (CaseWorkflow.rate, RateAction(actor=channel(), level="satisfied", solved=True), "WrongState", "不能评价"),
        (CaseWorkflow.rate, RateAction(actor=channel("app"), level="satisfied", solved=True), "WrongActor", "渠道"),
        (
            CaseWorkflow.redispatch,
            RedispatchAction(actor=unit("comm-a1"), to_unit="grid-a1-2", reason="越权改派"),
            "WrongActor",
            "督办人员",
        ),
        (
            CaseWorkflow.redispatch,
            RedispatchAction(actor=supervisor(), to_unit="grid-zz", reason="未知单位"),
            "UnknownUnit",
            "未知单位",
        ),
        (
            # a grid of another street, which the case does not carry, sent without its chain
            CaseWorkflow.redispatch,
            RedispatchAction(actor=supervisor(), to_unit="grid-b1-1", reason="未带上级"),
            "UnknownUnit",
            "未知单位",
        ),
        (
            # a chain that does not hang together: the grid's community is neither carried nor brought
            CaseWorkflow.redispatch,
            RedispatchAction(actor=supervisor(), to_unit="grid-b1-1", units=moved_grid_only(), reason="上级缺失"),
            "UnknownUnit",
            "未知单位",
        ),
        (
            CaseWorkflow.decide_return,
            ReturnDecision(actor=unit("comm-a1"), approve=True, reason="没有退单"),
            "WrongState",
            "不能审核退单",
        ),
        (
            CaseWorkflow.whistle,
            WhistleAction(
                actor=unit("grid-a1-1"), kind=WhistleKind.ordinary, departments=["dept-police"], reason="网格不能吹哨"
            ),
            "WrongTier",
            "吹哨",
        ),
        (CaseWorkflow.close, CloseAction(actor=supervisor(), reason="尚未重办超限"), "WrongState", "不能督办销号"),
        (
            CaseWorkflow.escalate,
            EscalateAction(actor=Actor(role=Role.channel, id="hotline12345"), reason="渠道上报"),
            "WrongActor",
            "只有当前承办单位",
        ),
    ]
    for update, action, code, words in attempts:
        before = await snapshot(h)
        with pytest.raises(WorkflowUpdateFailedError) as err:
            await h.execute_update(update, action)
        cause: Any = err.value.cause
        assert cause.type == code, (update, cause)
        assert words in cause.message, (cause.message, words)
        assert await snapshot(h) == before, f"{update.__name__} changed the case"

    # A bad return decision once a return is pending: approve without naming a unit.
    await h.execute_update(CaseWorkflow.return_case, ReturnAction(actor=unit("grid-a1-1"), reason="不属本网格"))
    before = await snapshot(h)
    with pytest.raises(WorkflowUpdateFailedError) as err:
        await h.execute_update(
            CaseWorkflow.decide_return, ReturnDecision(actor=unit("comm-a1"), approve=True, reason="同意")
        )
    assert getattr(err.value.cause, "type", None) == "MissingField"
    with pytest.raises(WorkflowUpdateFailedError) as err:
        await h.execute_update(
            CaseWorkflow.decide_return, ReturnDecision(actor=unit("street-b"), approve=False, reason="不是上级")
        )
    assert getattr(err.value.cause, "type", None) == "WrongActor"
    assert await snapshot(h) == before


async def test_malformed_payload_is_refused_before_the_workflow(client: Client, ticket: str) -> None:
    from pydantic import ValidationError

    with pytest.raises(ValidationError) as err:
        ReturnAction(actor=unit("grid-a1-1"), reason="")
    assert "reason" in str(err.value)
    with pytest.raises(ValidationError):
        RateAction(actor=channel(), level="great", solved=True)


def moved_grid_only() -> tuple[Unit, ...]:
    return load_policy().directory.chain("grid-b1-1")[:1]


async def refused(h: WorkflowHandle[CaseWorkflow, Any], update: Any, action: Any, code: str, words: str) -> None:
    before = await snapshot(h)
    with pytest.raises(WorkflowUpdateFailedError) as err:
        await h.execute_update(update, action)
    cause: Any = err.value.cause
    assert (cause.type, words in cause.message) == (code, True), cause.message
    assert await snapshot(h) == before, f"{update} changed the case"


async def test_side_paths_refuse_the_wrong_actor_state_and_timing(
    env: WorkflowEnvironment, client: Client, ticket: str
) -> None:
    grid, comm, boss = unit("grid-a1-1"), unit("comm-a1"), supervisor()
    h = await start_case(client, ticket, category="exposed_rubbish")
    await ready(h)
    app = channel("app")
    await refused(h, CaseWorkflow.withdraw, WithdrawAction(actor=app, reason="代他人撤回"), "WrongActor", "渠道")
    merge_self = MergeAction(actor=boss, into_case_id=h.id, reason="合并")
    await refused(h, CaseWorkflow.merge, merge_self.model_copy(update={"actor": grid}), "WrongActor", "督办")
    await refused(h, CaseWorkflow.merge, merge_self, "InvalidInput", "自身")
    await refused(h, CaseWorkflow.suspend, SuspendAction(actor=comm, reason="越级挂账"), "WrongActor", "承办单位")
    await refused(h, CaseWorkflow.resume, ResumeAction(actor=grid, reason="未挂账"), "WrongState", "不能恢复办理")
    await h.execute_update(CaseWorkflow.sign, SignAction(actor=grid))
    await refused(h, CaseWorkflow.reject_case, RejectAction(actor=boss, reason="已在办理"), "WrongState", "不予受理")

    amount = Limit(amount=1, unit=LimitUnit.working_hours)
    ask = ExtensionRequest(actor=grid, amount=amount, reason="需协调")
    await h.execute_update(CaseWorkflow.request_extension, ask)
    await refused(h, CaseWorkflow.request_extension, ask, "AlreadyPending", "待审批")
    wrong = ExtensionDecision(actor=unit("street-a"), approve=True, reason="越级审批")
    await refused(h, CaseWorkflow.decide_extension, wrong, "WrongActor", "多福巷社区")
    no = ExtensionDecision(actor=comm, approve=False, reason="不予延期")
    await h.execute_update(CaseWorkflow.decide_extension, no)

    # Past the whole-case limit (4 working hours), an extension can no longer be asked for.
    view = await h.query(CaseWorkflow.view)
    reply = next(d for d in view.deadlines if d.kind is DeadlineKind.reply and d.closed_at is None)
    await env.sleep(reply.due_at - await server_now(client) + timedelta(seconds=1))
    assert (await h.query(CaseWorkflow.view)).holder == "grid-a1-1"
    await refused(h, CaseWorkflow.request_extension, ask, "TooLate", "时限已过")


async def test_a_whistle_in_progress_holds_suspend_and_reply_back(
    env: WorkflowEnvironment, client: Client, ticket: str
) -> None:
    h, _ = await whistled_at_street(env, client, ticket, WhistleKind.ordinary, ["dept-enforcement"])
    street = unit("street-a")
    await refused(h, CaseWorkflow.suspend, SuspendAction(actor=street, reason="吹哨中挂账"), "WhistleActive", "挂账")
    await refused(h, CaseWorkflow.reply, ReplyAction(actor=street, result="吹哨中办结"), "WhistleActive", "事不完")
    await refused(h, CaseWorkflow.escalate, EscalateAction(actor=street, reason="上报"), "WhistleActive", "上报")


async def test_a_case_is_never_sent_to_the_district_or_the_supervisor_to_work(client: Client, ticket: str) -> None:
    # They oversee; no one there signs or replies, so a case sent there could never move again.
    h = await start_case(client, ticket, category="exposed_rubbish")
    await ready(h)
    for target in ("district", "supervisor-12345"):
        move = RedispatchAction(actor=supervisor(), to_unit=target, reason="改派")
        await refused(h, CaseWorkflow.redispatch, move, "InvalidInput", "不承办诉求")
    await h.execute_update(CaseWorkflow.return_case, ReturnAction(actor=unit("grid-a1-1"), reason="不属本网格"))
    for target in ("district", "supervisor-12345"):
        decision = ReturnDecision(actor=unit("comm-a1"), approve=True, to_unit=target, reason="同意")
        await refused(h, CaseWorkflow.decide_return, decision, "InvalidInput", "不承办诉求")
