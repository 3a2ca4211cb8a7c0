"""An update that closes a workflow while an event comes in is dropped by the server, unrecorded: our clients
send it again, so a resident's rating that races a whistle's end is neither lost nor answered "already closed"."""

from __future__ import annotations

import asyncio
import threading
import uuid

import pytest
from temporalio import workflow
from temporalio.client import Client
from temporalio.service import RPCError
from temporalio.worker import UnsandboxedWorkflowRunner, Worker

from api.errors import from_rpc
from scripts.temporal_dev import stop_process
from temporal_client import connect, dropped
from tests.servers import dev_server

HOLD = 1.5
"""How long at most the closing update holds its workflow task, waiting for the signal to come in (below the
SDK's deadlock timeout of 2 s)."""
HOLDING = threading.Event()
"""Set while the update holds its task (the worker runs in this process, unsandboxed)."""
SIGNALLED = threading.Event()
"""Set once the server holds the signal."""


@workflow.defn
class ClosesOnUpdate:
    def __init__(self) -> None:
        self.closed = False
        self.signals = 0

    @workflow.run
    async def run(self) -> int:
        await workflow.wait_condition(lambda: self.closed)
        return self.signals

    @workflow.signal
    def poke(self) -> None:
        self.signals += 1

    @workflow.update
    def close(self) -> str:
        if not workflow.unsafe.is_replaying():
            HOLDING.set()
            SIGNALLED.wait(HOLD)  # a slow task, as a busy worker's is
        self.closed = True
        return "closed"


async def race(client: Client, queue: str) -> str:
    h = await client.start_workflow(ClosesOnUpdate.run, id=f"race-{uuid.uuid4().hex}", task_queue=queue)
    HOLDING.clear()
    SIGNALLED.clear()
    update = asyncio.create_task(h.execute_update(ClosesOnUpdate.close))
    assert await asyncio.to_thread(HOLDING.wait, 10), "the update reached the worker"
    await h.signal(ClosesOnUpdate.poke)
    SIGNALLED.set()
    answer = await update
    assert await h.result() == 1, "the signal that came in is handled too"
    return answer


async def test_an_update_dropped_with_its_workflow_task_is_sent_again() -> None:
    server, bare, port = await dev_server()
    try:
        ours = await connect(address=f"127.0.0.1:{port}")
        queue = "races"
        async with Worker(
            bare, task_queue=queue, workflows=[ClosesOnUpdate], workflow_runner=UnsandboxedWorkflowRunner()
        ):
            # Without the resend the server's answer is the error, and the update is lost.
            plain = await Client.connect(f"127.0.0.1:{port}", data_converter=ours.data_converter)
            with pytest.raises(RPCError) as lost:
                await race(plain, queue)
            assert dropped(lost.value), lost.value
            # Were it dropped again and again, the API would say "try again", not "already struck off".
            assert from_rpc(lost.value).status == 503
            assert await race(ours, queue) == "closed"
    finally:
        stop_process(server, "temporal")
