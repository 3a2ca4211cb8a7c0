"""Which actions a person may take now: the same checks the validators run, never a copy of them."""

from __future__ import annotations

from temporalio.client import Client
from temporalio.testing import WorkflowEnvironment

from models.actions import ActionName as N
from models.inputs import Actor, EscalateAction, ReportAction, SignAction
from models.policy import WhistleKind
from tests.helpers import channel, ready, start_case, supervisor, unit, whistled_at_street
from workflows.case import CaseWorkflow
from workflows.whistle import WhistleWorkflow


async def test_each_actor_is_offered_what_its_validators_accept(client: Client, ticket: str) -> None:
    h = await start_case(client, ticket)
    await ready(h)

    async def offered(actor: Actor) -> list[N]:
        return await h.query(CaseWorkflow.available_actions, actor)

    grid = unit("grid-a1-1")
    assert await offered(grid) == [N.sign, N.return_, N.escalate, N.request_extension, N.suspend]
    assert await offered(unit("grid-a1-2")) == []
    assert await offered(channel()) == [N.withdraw]
    assert await offered(channel("app")) == []
    assert await offered(supervisor()) == [N.redispatch, N.suspend, N.merge, N.reject, N.urge, N.supervise]

    await h.execute_update(CaseWorkflow.sign, SignAction(actor=grid))
    assert await offered(grid) == [N.return_, N.escalate, N.request_extension, N.suspend, N.reply]
    await h.execute_update(CaseWorkflow.escalate, EscalateAction(actor=grid, reason="网格无力处置"))
    # The grid passed the case on: it may read it, and may do nothing more with it.
    assert await offered(grid) == []
    assert await offered(unit("comm-a1")) == [N.sign, N.return_, N.escalate, N.request_extension, N.suspend]


async def test_a_whistle_offers_report_then_contact_to_the_summoned(
    env: WorkflowEnvironment, client: Client, ticket: str
) -> None:
    h, w = await whistled_at_street(env, client, ticket, WhistleKind.ordinary, ["dept-enforcement", "dept-housing"])
    dept, street = unit("dept-enforcement"), unit("street-a")
    assert await w.query(WhistleWorkflow.available_actions, dept) == [N.report]
    assert await w.query(WhistleWorkflow.available_actions, street) == []
    assert await w.query(WhistleWorkflow.available_actions, unit("dept-police")) == []
    await w.execute_update(WhistleWorkflow.report, ReportAction(actor=dept))
    assert await w.query(WhistleWorkflow.available_actions, dept) == [N.contact]
    assert await w.query(WhistleWorkflow.available_actions, street) == [N.release]
    # While the whistle is on, the street may not reply (事不完、人不撤) nor whistle again.
    assert N.reply not in await h.query(CaseWorkflow.available_actions, street)
    assert N.whistle not in await h.query(CaseWorkflow.available_actions, street)
