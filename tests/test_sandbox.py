"""The worker's sandbox still guards what a workflow does, and steps aside only where no byte can differ."""

from __future__ import annotations

import asyncio
import dataclasses
import uuid
from collections.abc import Sequence
from datetime import datetime

from temporalio import workflow
from temporalio.api.common.v1 import Payload
from temporalio.api.enums.v1 import EventType
from temporalio.converter import DataConverter, PayloadCodec
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import UnsandboxedWorkflowRunner, Worker
from temporalio.worker.workflow_sandbox import SandboxedWorkflowRunner

with workflow.unsafe.imports_passed_through():
    from sandbox import Sandbox, sandbox_for
    from tests.servers import time_skipping_env
    from worker import RESTRICTIONS, build_worker


@workflow.defn(sandboxed=True)
class ReadsTheClock:
    @workflow.run
    async def run(self) -> str:
        return datetime.now().isoformat()  # not deterministic: the sandbox must refuse it


class Passing(PayloadCodec):
    async def encode(self, payloads: Sequence[Payload]) -> list[Payload]:
        return list(payloads)

    async def decode(self, payloads: Sequence[Payload]) -> list[Payload]:
        return list(payloads)


async def test_the_lighter_sandbox_still_refuses_what_the_sdk_sandbox_refuses() -> None:
    # A server of its own: a workflow task failing on repeat would hold up the shared server's time skipping.
    async with await time_skipping_env() as env:
        client, queue = env.client, "sandbox"
        async with Worker(
            client, task_queue=queue, workflows=[ReadsTheClock], workflow_runner=Sandbox(restrictions=RESTRICTIONS)
        ):
            h = await client.start_workflow(ReadsTheClock.run, id=f"clock-{uuid.uuid4().hex}", task_queue=queue)
            failure = ""
            for _ in range(100):
                history = await h.fetch_history()
                failed = [e for e in history.events if e.event_type == EventType.EVENT_TYPE_WORKFLOW_TASK_FAILED]
                if failed:
                    failure = failed[0].workflow_task_failed_event_attributes.failure.message
                    break
                await asyncio.sleep(0.05)
            await h.terminate()
    assert "datetime.datetime.now" in failure, failure


def test_a_converter_whose_bytes_depend_on_context_keeps_the_sdk_sandbox() -> None:
    assert isinstance(sandbox_for(DataConverter.default, RESTRICTIONS), Sandbox)
    with_codec = dataclasses.replace(DataConverter.default, payload_codec=Passing())
    runner = sandbox_for(with_codec, RESTRICTIONS)
    assert isinstance(runner, SandboxedWorkflowRunner) and not isinstance(runner, Sandbox)


async def test_the_worker_runs_cases_in_the_lighter_sandbox_unless_told_not_to(
    env: WorkflowEnvironment, db_url: str
) -> None:
    # Worker's constructor checks the workflows in each runner, on the running loop.
    def runner(sandbox: bool | None = None) -> object:
        return build_worker(
            env.client, task_queue=f"wiring-{uuid.uuid4().hex}", database_url=db_url, sandbox=sandbox
        ).config()["workflow_runner"]

    assert isinstance(runner(), Sandbox)
    assert isinstance(runner(sandbox=False), UnsandboxedWorkflowRunner)
