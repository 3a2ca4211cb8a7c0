"""What a case's moves and extensions leave in its record: a 退单 or 延期 its holder asked for lapses once the case
has moved on; a limit already missed stays missed when time is granted after it, the time granted being a
limit of its own; a case the supervisor sends back to a street that had not signed arrives there again."""

from __future__ import annotations

from typing import Any

import pytest
from temporalio.client import Client, WorkflowHandle, WorkflowUpdateFailedError
from temporalio.testing import WorkflowEnvironment

from models.case import Status
from models.inputs import (
    EscalateAction,
    ExtendAction,
    ExtensionDecision,
    ExtensionRequest,
    ReplyAction,
    ReturnAction,
    ReturnDecision,
    SignAction,
)
from models.policy import Limit, LimitUnit
from models.timeline import DeadlineKind, EventKind
from tests.helpers import kinds, missed, ready, sleep_past, start_case, supervisor, timeline, unit
from workflows.case import CaseWorkflow

GRID, COMM, STREET = unit("grid-a1-1"), unit("comm-a1"), unit("street-a")


async def signed_at_grid(client: Client, ticket: str) -> WorkflowHandle[CaseWorkflow, Any]:
    h = await start_case(client, ticket, category="street_vending")  # a general case with a grid slice
    await ready(h)
    await h.execute_update(CaseWorkflow.sign, SignAction(actor=GRID))
    return h


async def test_an_extension_asked_for_lapses_when_the_slice_runs_out_and_the_case_climbs(
    env: WorkflowEnvironment, client: Client, ticket: str
) -> None:
    h = await signed_at_grid(client, ticket)
    ask = ExtensionRequest(actor=GRID, amount=Limit(amount=1, unit=LimitUnit.working_days), reason="等待鉴定")
    await h.execute_update(CaseWorkflow.request_extension, ask)
    await sleep_past(env, h, DeadlineKind.tier)  # the community does not decide in time
    view = await h.query(CaseWorkflow.view)
    assert (view.holder, view.pending_extension) == ("comm-a1", None)
    with pytest.raises(WorkflowUpdateFailedError) as err:
        await h.execute_update(
            CaseWorkflow.decide_extension, ExtensionDecision(actor=COMM, approve=True, reason="同意")
        )
    assert getattr(err.value.cause, "type", None) == "WrongState"
    reply = next(d for d in (await h.query(CaseWorkflow.view)).deadlines if d.kind is DeadlineKind.reply)
    assert reply.due_at == next(d for d in view.deadlines if d.kind is DeadlineKind.reply).due_at, "not moved"


async def test_a_return_asked_for_lapses_when_the_slice_runs_out_and_the_case_climbs(
    env: WorkflowEnvironment, client: Client, ticket: str
) -> None:
    h = await signed_at_grid(client, ticket)
    await h.execute_update(CaseWorkflow.return_case, ReturnAction(actor=GRID, reason="不属本网格"))
    await sleep_past(env, h, DeadlineKind.tier)
    view = await h.query(CaseWorkflow.view)
    assert (view.holder, view.status, view.pending_return) == ("comm-a1", Status.dispatched, None)
    assert kinds(await timeline(h))[-1] is EventKind.dispatch
    with pytest.raises(WorkflowUpdateFailedError) as err:
        await h.execute_update(
            CaseWorkflow.decide_return, ReturnDecision(actor=COMM, approve=False, reason="不同意退单")
        )
    assert getattr(err.value.cause, "type", None) == "WrongState"
    await h.execute_update(CaseWorkflow.sign, SignAction(actor=COMM))  # the community works it as its own


async def test_an_extension_approved_after_the_limit_passed_keeps_the_miss_and_grants_a_limit_of_its_own(
    env: WorkflowEnvironment, client: Client, ticket: str
) -> None:
    # 暴露垃圾: 4 working hours for the whole case, and no tier slice of its own.
    h = await start_case(client, ticket, category="exposed_rubbish")
    await ready(h)
    await h.execute_update(CaseWorkflow.sign, SignAction(actor=GRID))
    ask = ExtensionRequest(actor=GRID, amount=Limit(amount=2, unit=LimitUnit.working_hours), reason="等待清运车辆")
    await h.execute_update(CaseWorkflow.request_extension, ask)  # in time
    await sleep_past(env, h, DeadlineKind.reply)  # the community decides only after the limit has passed
    assert missed(await timeline(h), DeadlineKind.reply) == ["grid-a1-1"]
    view = await h.execute_update(
        CaseWorkflow.decide_extension, ExtensionDecision(actor=COMM, approve=True, reason="同意延期")
    )
    first, granted = [d for d in view.deadlines if d.kind is DeadlineKind.reply]
    assert first.missed and first.closed_at is not None, "the miss stands as it was recorded"
    assert granted.closed_at is None and not granted.missed and granted.due_at > first.due_at
    assert not view.overdue
    await h.execute_update(CaseWorkflow.reply, ReplyAction(actor=GRID, result="已清运"))
    reply = next(e for e in await timeline(h) if e.kind is EventKind.reply)
    assert reply.deadline is not None and (reply.deadline.due_at, reply.deadline.met) == (granted.due_at, True)


async def climbed_unsigned(env: WorkflowEnvironment, client: Client, ticket: str, category: str) -> Any:
    """A case the grid and the community passed on at once and the street neither signed nor finished in its slice:
    in the supervisor's queue."""
    h = await start_case(client, ticket, category=category)
    await ready(h)
    for who in (GRID, COMM):
        await h.execute_update(CaseWorkflow.sign, SignAction(actor=who))
        await h.execute_update(CaseWorkflow.escalate, EscalateAction(actor=who, reason="需上级协调处置"))
    await sleep_past(env, h, DeadlineKind.tier)
    assert (await h.query(CaseWorkflow.view)).holder == "supervisor-12345"
    return h


async def test_a_case_the_supervisor_sends_back_to_an_unsigned_street_arrives_there_again(
    env: WorkflowEnvironment, client: Client, ticket: str
) -> None:
    # 响应率 counts each arrival once and each sign against the arrival it answers: a second sign limit with no
    # second arrival would count a sign in time against an arrival already missed.
    h = await climbed_unsigned(env, client, ticket, "street_vending")
    more = ExtendAction(actor=supervisor(), amount=Limit(amount=2, unit=LimitUnit.working_days), reason="再给两天")
    await h.execute_update(CaseWorkflow.extend, more)
    await h.execute_update(CaseWorkflow.sign, SignAction(actor=STREET))
    events = await timeline(h)
    arrivals = [e for e in events if e.kind is EventKind.dispatch and e.unit_id == "street-a"]
    signs = [e for e in events if e.kind is EventKind.sign and e.unit_id == "street-a"]
    sign_limits = [
        d
        for d in (await h.query(CaseWorkflow.view)).deadlines
        if d.kind is DeadlineKind.sign and d.unit_id == "street-a"
    ]
    assert len(arrivals) == len(sign_limits) == 2 and len(signs) == 1
    assert [d.missed for d in sign_limits] == [True, False]


async def test_the_supervisor_s_extension_does_not_claim_to_move_a_reply_limit_already_missed(
    env: WorkflowEnvironment, client: Client, ticket: str
) -> None:
    h = await climbed_unsigned(env, client, ticket, "exposed_rubbish")  # its 4 working hours ran out first
    reply = next(d for d in (await h.query(CaseWorkflow.view)).deadlines if d.kind is DeadlineKind.reply)
    assert reply.missed
    more = ExtendAction(actor=supervisor(), amount=Limit(amount=2, unit=LimitUnit.working_days), reason="再给两天")
    await h.execute_update(CaseWorkflow.extend, more)
    text = next(e.text for e in reversed(await timeline(h)) if e.kind is EventKind.extension_approved)
    assert "办结时限延至" not in text and "办结时限已于" in text, text
