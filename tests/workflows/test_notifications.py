"""A receiver failing for good holds no case back (time-skipping server, real worker, real dispatcher)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path

import pytest
import pytest_asyncio
from temporalio.client import Client
from temporalio.testing import WorkflowEnvironment

from config import Settings
from models.inputs import SignAction
from models.timeline import EventKind
from tests.helpers import ready, start_case, timeline, unit
from tests.notifications.conftest import all_in, dispatching, entries, settings_for, wait_for
from tests.notifications.receivers import Receivers, receivers
from worker import build_worker
from workflows.case import CaseWorkflow

QUEUE = "test-notify-cases"


@pytest_asyncio.fixture(scope="module")
async def failing(
    env: WorkflowEnvironment, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[tuple[Receivers, Settings]]:
    """A worker and a dispatcher on a database of their own; every send hangs at its receiver until released.

    A send may take a minute, so a case that waited on one would wait longer than any step here allows."""
    folder: Path = tmp_path_factory.mktemp("notify-wf")
    async with receivers() as (rx, base):
        rx.fail = "timeout"
        cfg = settings_for(folder, base, webhook=True, max_attempts=100_000, timeout="60", lease="70")
        worker = build_worker(env.client, task_queue=QUEUE, database_url=cfg.database_url, policy_dir=cfg.policy_dir)
        task = asyncio.create_task(worker.run())
        async with dispatching(cfg):
            yield rx, cfg
        await worker.shutdown()
        await task


async def test_a_failing_receiver_never_delays_sign_or_escalation(
    env: WorkflowEnvironment, failing: tuple[Receivers, Settings], ticket: str
) -> None:
    rx, cfg = failing
    client: Client = env.client
    h = await start_case(client, ticket, task_queue=QUEUE, policy_dir=cfg.policy_dir, category="street_vending")
    await ready(h)
    await wait_for(lambda: rx.held)  # the dispatch notice is being sent, and its receiver does not answer
    await asyncio.wait_for(h.execute_update(CaseWorkflow.sign, SignAction(actor=unit("grid-a1-1"))), 30)

    await env.sleep(timedelta(days=3))  # past the grid's one working day
    (climb,) = [e for e in await timeline(h) if e.kind is EventKind.auto_escalate]
    assert climb.deadline is not None and timedelta(0) <= climb.at - climb.deadline.due_at < timedelta(seconds=1)
    assert rx.held and not rx.received, "signed and escalated while every send so far still hung"

    # The receivers now fail at once: every channel is tried and fails; nothing delivered, nothing dropped.
    rx.fail = "500"
    rx.release.set()

    def every_channel_tried() -> bool:
        found = entries(cfg, h.id)
        return (
            {e.channel for e in found if e.attempts >= 2} == {e.channel for e in found} >= {"wecom-comm-a1", "webhook"}
        )

    await wait_for(every_channel_tried)
    assert not rx.received and all(e.state == "pending" for e in entries(cfg, h.id))

    rx.fail = None
    await wait_for(lambda: all_in(cfg, h.id, "delivered"))
    done = entries(cfg, h.id)
    hooked = rx.keys("hook")
    assert sorted(hooked) == sorted(e.key for e in done if e.channel == "webhook"), "every message, once"
    for recipient in {e.recipient for e in done}:  # in the order the case wrote them, per recipient
        mine = [e.key for e in done if e.recipient == recipient and e.channel == "webhook"]
        assert [k for k in hooked if k in mine] == mine
    assert len(rx.on("wecom")) == len([e for e in done if e.provider == "wecom"]) >= 3
    # A case left open on a queue whose worker stops holds the time-skipping clock for the tests after it.
    await h.terminate("test over")
