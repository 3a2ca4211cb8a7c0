"""The worker: runs CaseWorkflow, WhistleWorkflow and their activities against TEMPORAL_ADDRESS.

`python worker.py` serves in WORKER_PROCESSES processes (one by default) on one task queue; Temporal hands a
case's next task to the process that holds it in memory.
"""

from __future__ import annotations

import asyncio
import os
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import structlog
from temporalio.client import Client
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.worker import UnsandboxedWorkflowRunner, Worker
from temporalio.worker.workflow_sandbox import SandboxedWorkflowRunner

import logs
from activities.case import CaseActivities
from activities.db import engine_for
from activities.notify import Notifier
from config import settings
from policy import load_policy
from processes import run_processes
from workflows.case import CaseWorkflow
from workflows.whistle import WhistleWorkflow

WORKFLOWS = [CaseWorkflow, WhistleWorkflow]
log = structlog.get_logger(__name__)


async def connect(address: str | None = None) -> Client:
    return await Client.connect(
        address or settings.temporal_address,
        namespace=settings.temporal_namespace,
        data_converter=pydantic_data_converter,
    )


def build_worker(
    client: Client,
    *,
    task_queue: str | None = None,
    database_url: str | None = None,
    policy_dir: Path | None = None,
    executor: ThreadPoolExecutor | None = None,
    sandbox: bool | None = None,
) -> Worker:
    """One place that wires workflows and activities, shared by `main`, the tests and the benchmarks."""
    load_policy(policy_dir or settings.policy_dir)  # a broken policy fails here, at start, naming the field
    engine = engine_for(database_url or settings.database_url)
    acts = CaseActivities(
        engine=engine,
        notifier=Notifier(engine),
        policy_dir=policy_dir or settings.policy_dir,
    )
    return Worker(
        client,
        task_queue=task_queue or settings.task_queue,
        workflows=WORKFLOWS,
        activities=[acts.open_case, acts.plan_deadlines, acts.record],
        activity_executor=executor or ThreadPoolExecutor(max_workers=16),
        max_cached_workflows=settings.cache_per_process,
        # The sandbox re-imports the workflow module for every case and wraps every payload; the replay tests
        # and the sandboxed test suite guard determinism, so production may run without it (WORKFLOW_SANDBOX).
        workflow_runner=SandboxedWorkflowRunner()
        if (settings.workflow_sandbox if sandbox is None else sandbox)
        else UnsandboxedWorkflowRunner(),
    )


async def serve() -> None:
    client = await connect()
    worker = build_worker(client)
    log.info("worker_started", address=settings.temporal_address, task_queue=settings.task_queue, pid=os.getpid())
    await worker.run()


def serve_forever() -> None:
    logs.configure(json=settings.log_json)
    asyncio.run(serve())


def main() -> None:
    logs.configure(json=settings.log_json)
    # Once, before the processes start: a broken policy stops here, and the tables exist before they all open them.
    load_policy(settings.policy_dir)
    engine_for(settings.database_url)
    run_processes(serve_forever, settings.worker_processes)


if __name__ == "__main__":
    main()
