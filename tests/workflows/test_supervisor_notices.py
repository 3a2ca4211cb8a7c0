"""A limit missed while the case waits in the supervisor's queue: the supervisor gets its 督办 once."""

from __future__ import annotations

from sqlalchemy.engine import Engine
from temporalio.client import Client
from temporalio.testing import WorkflowEnvironment

from models.case import Status
from models.timeline import DeadlineKind
from tests.helpers import sleep_past
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
