"""The 督办 of a missed limit: once to a supervisor who holds the case; to a unit the case climbed away from, as
that (not 请立即办理)."""

from __future__ import annotations

from sqlalchemy.engine import Engine
from temporalio.client import Client
from temporalio.testing import WorkflowEnvironment

from models.case import Status
from models.inputs import CloseAction, SignAction, WithdrawAction
from models.timeline import DeadlineKind
from tests.helpers import channel, ready, sleep_past, start_case, supervisor, unit
from tests.workflows.test_charged import climbed_by_hand, notices
from workflows.case import CaseWorkflow

SUPERVISORS = ("supervisor", "supervisor-12345")  # one recipient: the dispatcher routes both to its channel


async def test_a_reply_limit_missed_in_the_supervisors_queue_is_supervised_once(
    env: WorkflowEnvironment, client: Client, ticket: str, engine: Engine
) -> None:
    h = await climbed_by_hand(client, ticket, "street_vending")
    await sleep_past(env, h, DeadlineKind.tier)
    assert (await h.query(CaseWorkflow.view)).status is Status.to_redispatch
    await sleep_past(env, h, DeadlineKind.reply)
    supervised = [
        n.text
        for n in notices(engine, h.id)
        if n.recipient in SUPERVISORS and "【督办】" in n.text and "办结时限" in n.text
    ]
    assert len(supervised) == 1, supervised


async def test_a_unit_whose_slice_ran_out_is_told_the_case_climbed_not_to_handle_it_now(
    env: WorkflowEnvironment, client: Client, ticket: str, engine: Engine
) -> None:
    h = await start_case(client, ticket, category="street_vending")
    await ready(h)
    await h.execute_update(CaseWorkflow.sign, SignAction(actor=unit("grid-a1-1")))
    await sleep_past(env, h, DeadlineKind.tier)
    assert (await h.query(CaseWorkflow.view)).holder == "comm-a1"
    (supervised,) = [n.text for n in notices(engine, h.id) if n.recipient == "grid-a1-1" and "【督办】" in n.text]
    assert "请立即办理" not in supervised and "自动上报" in supervised, supervised


async def test_a_case_the_supervisor_strikes_off_is_not_told_to_the_resident_as_handled(
    env: WorkflowEnvironment, client: Client, ticket: str, engine: Engine
) -> None:
    h = await climbed_by_hand(client, ticket, "street_vending")
    await sleep_past(env, h, DeadlineKind.tier)
    await h.execute_update(CaseWorkflow.close, CloseAction(actor=supervisor(), reason="经核实属历史遗留，另行处置"))
    rows = notices(engine, h.id)
    last = [n.text for n in rows if n.recipient.startswith("reporter:")][-1]
    assert "办理完毕" not in last and "历史遗留" in last and last.count("督办") == 1, last
    assert any(n.recipient == "dept-enforcement" and "【销号】" in n.text for n in rows), "the assisting unit"


async def test_a_case_withdrawn_while_the_supervisor_holds_it_tells_the_supervisor(
    env: WorkflowEnvironment, client: Client, ticket: str, engine: Engine
) -> None:
    h = await climbed_by_hand(client, ticket, "street_vending")
    await sleep_past(env, h, DeadlineKind.tier)
    assert (await h.query(CaseWorkflow.view)).status is Status.to_redispatch
    await h.execute_update(CaseWorkflow.withdraw, WithdrawAction(actor=channel(), reason="已自行解决"))
    assert any(n.recipient in SUPERVISORS and "【销号】" in n.text for n in notices(engine, h.id))
