"""A wrong actor, a wrong state, bad input, a repeated request: refused in Chinese, nothing written."""

from __future__ import annotations

from typing import Any

import pytest
from temporalio.api.enums.v1 import EventType
from temporalio.client import Client, WorkflowHandle, WorkflowUpdateFailedError

from models.case import (
    Actor,
    CloseAction,
    EscalateAction,
    RateAction,
    RedispatchAction,
    ReplyAction,
    ReturnAction,
    ReturnDecision,
    Role,
    SignAction,
    WhistleAction,
)
from models.policy import WhistleKind
from tests.helpers import channel, ready, start_case, supervisor, unit
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
        RateAction(actor=channel(), level="great", solved=True)  # type: ignore[arg-type]
