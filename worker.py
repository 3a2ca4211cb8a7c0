"""The worker: runs CaseWorkflow, WhistleWorkflow and their activities against TEMPORAL_ADDRESS.

`python worker.py` serves in WORKER_PROCESSES processes (one by default) on one task queue; Temporal hands a
case's next task to the process that holds it in memory.
"""

from __future__ import annotations

import asyncio
import multiprocessing
import os
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import structlog
from temporalio.client import Client
from temporalio.worker import Interceptor, UnsandboxedWorkflowRunner, Worker
from temporalio.worker.workflow_sandbox import SandboxRestrictions

import logs
from activities.case import CaseActivities
from activities.notify import Notifier
from config import settings
from policy import load_policy
from processes import run_processes
from sandbox import sandbox_for
from store.db import SchemaError, engine_for
from temporal_client import connect
from workflows.case import CaseWorkflow
from workflows.whistle import WhistleWorkflow

WORKFLOWS = [CaseWorkflow, WhistleWorkflow]
# The workflow modules pass through the sandbox like the models and steps they import: imported once per process,
# not executed again for every case the sandbox runs (its class, its code objects, its handlers inspected anew).
# Their code is deterministic, which the replay tests check for every recorded history.
RESTRICTIONS = SandboxRestrictions.default.with_passthrough_modules("workflows")
log = structlog.get_logger(__name__)


def build_worker(
    client: Client,
    *,
    task_queue: str | None = None,
    database_url: str | None = None,
    policy_dir: Path | None = None,
    executor: ThreadPoolExecutor | None = None,
    sandbox: bool | None = None,
    interceptors: Sequence[Interceptor] = (),
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
        interceptors=interceptors,
        # The sandbox guards what a workflow imports and calls as it runs (sandbox.py: the SDK's, lighter); the
        # replay tests guard determinism, so production may run without it (WORKFLOW_SANDBOX).
        workflow_runner=sandbox_for(client.data_converter, RESTRICTIONS)
        if (settings.workflow_sandbox if sandbox is None else sandbox)
        else UnsandboxedWorkflowRunner(),
    )


def metrics_bind(process: int = 0) -> str | None:
    """Where this worker process serves the SDK's metrics: TEMPORAL_METRICS_BIND, its port + the process index."""
    if settings.temporal_metrics_bind is None:
        return None
    host, _, port = settings.temporal_metrics_bind.rpartition(":")
    return f"{host}:{int(port) + process}"


async def serve(process: int = 0) -> None:
    client = await connect(metrics_bind=metrics_bind(process))
    worker = build_worker(client)
    log.info("worker_started", address=settings.temporal_address, task_queue=settings.task_queue, pid=os.getpid())
    await worker.run()


def serve_forever() -> None:
    logs.configure(json=settings.log_json)
    # run_processes names the others worker-1, worker-2, ...; this process is 0.
    name = multiprocessing.current_process().name
    asyncio.run(serve(int(name.rpartition("-")[2]) if name.startswith("worker-") else 0))


def main() -> None:
    logs.configure(json=settings.log_json)
    # Once, before the processes start: a broken policy or a database behind the code stops here.
    load_policy(settings.policy_dir)
    try:
        engine_for(settings.database_url)
    except SchemaError as err:
        log.error("database_schema_behind", error=str(err))
        raise SystemExit(f"worker: {err}") from None
    run_processes(serve_forever, settings.worker_processes)


if __name__ == "__main__":
    main()
