"""Lifecycle throughput: N cases intake → dispatch → sign → reply → rate → 销号 through the real worker, against
a baseline workflow that takes the same updates and does nothing else, on the same embedded server."""

from __future__ import annotations

import argparse
import asyncio
import tempfile
import time
import uuid
from datetime import UTC, datetime
from typing import Any

from temporalio.client import Client, WithStartWorkflowOperation
from temporalio.common import WorkflowIDConflictPolicy
from temporalio.worker import Worker

from bench.baseline import BaselineWorkflow
from bench.common import report, temporal_server
from models.case import (
    Actor,
    CaseInput,
    Intake,
    Location,
    RateAction,
    ReplyAction,
    Role,
    SignAction,
    case_id_for,
)
from worker import build_worker
from workflows.case import CaseWorkflow

GRID = Actor(role=Role.unit, id="bench", unit_id="grid-a1-1")
CHANNEL = Actor(role=Role.channel, id="bench")


async def baseline_case(client: Client, queue: str) -> None:
    h = await client.start_workflow(BaselineWorkflow.run, 3, id=f"base-{uuid.uuid4().hex}", task_queue=queue)
    for name in ("sign", "reply", "rate"):
        await h.execute_update(BaselineWorkflow.step, name)
    await h.result()


async def real_case(client: Client, queue: str) -> None:
    intake = Intake(
        channel="bench",
        channel_ticket_id=uuid.uuid4().hex[:16],
        category="exposed_rubbish",
        title="基准测试",
        description="基准测试工单",
        location=Location(grid_id="grid-a1-1", address="测试地址"),
        reported_at=datetime.now(UTC),
    )
    # As a channel does it: start and wait for dispatch in one call.
    start = WithStartWorkflowOperation(
        CaseWorkflow.run,
        CaseInput(intake=intake, case_id=case_id_for(intake.channel, intake.channel_ticket_id)),
        id=case_id_for(intake.channel, intake.channel_ticket_id),
        task_queue=queue,
        id_conflict_policy=WorkflowIDConflictPolicy.USE_EXISTING,
    )
    await client.execute_update_with_start_workflow(CaseWorkflow.opened, start_workflow_operation=start)
    h = await start.workflow_handle()
    await h.execute_update(CaseWorkflow.sign, SignAction(actor=GRID))
    await h.execute_update(CaseWorkflow.reply, ReplyAction(actor=GRID, result="已处理"))
    await h.execute_update(CaseWorkflow.rate, RateAction(actor=CHANNEL, level="satisfied", solved=True))
    await h.result()


async def drive(n: int, concurrency: int, one: Any, client: Client, queue: str) -> float:
    sem = asyncio.Semaphore(concurrency)

    async def go() -> None:
        async with sem:
            await one(client, queue)

    started = time.perf_counter()
    await asyncio.gather(*(go() for _ in range(n)))
    return time.perf_counter() - started


async def run(n: int = 500, concurrency: int = 50) -> dict[str, Any]:
    async with temporal_server() as server:
        client = server.client
        with tempfile.TemporaryDirectory() as tmp:
            db = f"sqlite:///{tmp}/cases.db"
            sandboxed = build_worker(client, task_queue="bench-cases", database_url=db, webhook_url="", sandbox=True)
            bare = build_worker(client, task_queue="bench-bare", database_url=db, webhook_url="", sandbox=False)
            base_worker = Worker(client, task_queue="bench-base", workflows=[BaselineWorkflow])
            async with sandboxed, bare, base_worker:
                for queue, one in (
                    ("bench-cases", real_case),
                    ("bench-bare", real_case),
                    ("bench-base", baseline_case),
                ):
                    await drive(min(20, n), concurrency, one, client, queue)  # warm-up
                base_s = await drive(n, concurrency, baseline_case, client, "bench-base")
                real_s = await drive(n, concurrency, real_case, client, "bench-cases")
                bare_s = await drive(n, concurrency, real_case, client, "bench-bare")
    base_rate, real_rate, bare_rate = n / base_s, n / real_s, n / bare_s
    return {
        "parameters": {"cases": n, "concurrency": concurrency},
        "baseline_cases_per_s": round(base_rate, 1),
        "engine_cases_per_s": round(real_rate, 1),
        "ratio": round(real_rate / base_rate, 3),
        "engine_unsandboxed_cases_per_s": round(bare_rate, 1),
        "ratio_unsandboxed": round(bare_rate / base_rate, 3),
    }


def summary(r: dict[str, Any]) -> str:
    return (
        "## Lifecycle throughput\n\n"
        f"{r['parameters']['cases']} cases, {r['parameters']['concurrency']} at a time, worker in the same process.\n\n"
        "| run | cases/s | ratio to baseline |\n|---|---|---|\n"
        f"| baseline (3 updates, no work) | {r['baseline_cases_per_s']} | 1 |\n"
        f"| engine (intake → 销号), sandboxed worker (default) | {r['engine_cases_per_s']} | **{r['ratio']}** |\n"
        f"| engine, `WORKFLOW_SANDBOX=false` | {r['engine_unsandboxed_cases_per_s']} | "
        f"**{r['ratio_unsandboxed']}** |\n\n"
        "Target: ratio ≥ 0.8.\n"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--cases", type=int, default=500)
    parser.add_argument("--concurrency", type=int, default=50)
    args = parser.parse_args()
    result = asyncio.run(run(args.cases, args.concurrency))
    report("lifecycle", result, summary)


if __name__ == "__main__":
    main()
