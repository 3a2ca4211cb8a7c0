"""What a case's move leaves behind: a 退单 or 延期 its holder asked for lapses once the case has moved on, so the
unit it moves to is never asked to approve what it could not decide."""

from __future__ import annotations

from typing import Any

import pytest
from temporalio.client import Client, WorkflowHandle, WorkflowUpdateFailedError
from temporalio.testing import WorkflowEnvironment

from models.case import Status
from models.inputs import ExtensionDecision, ExtensionRequest, ReturnAction, ReturnDecision, SignAction
from models.policy import Limit, LimitUnit
from models.timeline import DeadlineKind, EventKind
from tests.helpers import kinds, ready, sleep_past, start_case, timeline, unit
from workflows.case import CaseWorkflow

GRID, COMM = unit("grid-a1-1"), unit("comm-a1")


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
