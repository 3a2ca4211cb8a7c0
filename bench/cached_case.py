"""A cached case's memory beside the same calls alone: the worker's RSS per case waiting on its first deadline,
for engine cases and for `BaselineAtRest`, a workflow that receives the same start-input bytes, makes the same
calls until it waits (update-with-start, a local activity, an upsert of seven search attributes, a timer,
an answer as long as the view) and keeps nothing else.

Each kind is measured in a process of its own (the worker in it, on a fresh dev server), so one kind's heap
does not count for the other; all its cases fit in the worker's cache. `live_cases` measures the same for
engine cases beside bare timers, which take a 10-byte input and make one call.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import json
import os
import subprocess
import sys
import tempfile
import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from temporalio import activity
from temporalio.client import Client, WithStartWorkflowOperation
from temporalio.common import RawValue
from temporalio.worker import Worker

from bench.at_rest import BaselineAtRest
from bench.common import report, rss_bytes, temporal_server
from bench.stack import intake, short_policy_dir, start_many
from config import ROOT, settings
from models.intake import Intake
from models.policy import Urgency
from policy import load_policy
from sandbox import sandbox_for
from services.intake import start_options
from worker import RESTRICTIONS, build_worker
from workflows.case import CaseWorkflow

QUEUE = "bench-cached"
WARM = 20  # cases started before measuring, so that what every process loads once is not counted
KINDS = ("baseline_small_input", "baseline", "engine")


@activity.defn(name="baseline_record")
def baseline_record(_: str) -> None:
    return None


def ticket() -> Intake:
    # 疑难 (complex): its first deadline is working days away, so nothing fires while measured (as in live_cases).
    return intake(uuid.uuid4().hex[:16], Urgency.complex)


async def measure(kind: str, cases: int) -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as tmp:
        policy_dir = short_policy_dir(Path(tmp))
        policy = load_policy(policy_dir)
        async with temporal_server() as server:
            client: Client = server.client
            answer_bytes = 0

            async def engine_case(_: int) -> None:
                nonlocal answer_bytes
                start = WithStartWorkflowOperation(CaseWorkflow.run, **start_options(QUEUE, ticket(), policy))
                opened = await client.execute_update_with_start_workflow(
                    CaseWorkflow.opened, start_workflow_operation=start
                )
                answer_bytes = len(opened.view.model_dump_json())

            async def baseline_case(_: int) -> None:
                options = {**start_options(QUEUE, ticket(), policy), "task_queue": f"{QUEUE}-baseline"}
                case_input = options.pop("arg")
                arg = case_input if kind == "baseline" else "0123456789"
                [payload] = client.data_converter.payload_converter.to_payloads([arg])
                start = WithStartWorkflowOperation(
                    BaselineAtRest.run,
                    args=[RawValue(payload), answer_bytes],
                    **options,
                )
                await client.execute_update_with_start_workflow(BaselineAtRest.opened, start_workflow_operation=start)

            # The baseline answers with as many bytes as an engine case's view: one engine case tells how many.
            engine = build_worker(client, task_queue=QUEUE, database_url=f"sqlite:///{tmp}/cases.db")
            if kind == "engine":
                worker = engine
            else:
                async with engine:
                    await engine_case(0)
                worker = Worker(
                    client,
                    task_queue=f"{QUEUE}-baseline",
                    workflows=[BaselineAtRest],
                    activities=[baseline_record],
                    activity_executor=ThreadPoolExecutor(max_workers=16),
                    max_cached_workflows=settings.cache_per_process,
                    # passed through as the case's modules are, so neither is executed anew per workflow
                    workflow_runner=sandbox_for(
                        client.data_converter, RESTRICTIONS.with_passthrough_modules("bench.at_rest")
                    ),
                )
            one = engine_case if kind == "engine" else baseline_case
            async with worker:
                await start_many(WARM, 10, one)
                await asyncio.sleep(2)
                gc.collect()
                before = rss_bytes()
                await start_many(cases, 20, one)
                await asyncio.sleep(5)  # the worker's last completions, and the allocator settling
                gc.collect()
                after = rss_bytes()
    return {"rss_per_cached_case_kib": round((after - before) / cases / 1024, 1), "answer_bytes": answer_bytes}


async def run(cases: int = 900) -> dict[str, Any]:
    # Blocking on each child is fine: nothing else runs in this process meanwhile.
    if cases + WARM > settings.cache_per_process:
        raise ValueError(f"{cases} cases and {WARM} warm-ups do not fit the cache of {settings.cache_per_process}")
    measured: dict[str, Any] = {}
    for kind in KINDS:
        out = subprocess.run(
            [sys.executable, "-m", "bench.cached_case", "--measure", kind, "--cases", str(cases)],
            cwd=ROOT,
            env={**os.environ, "PYTHONPATH": str(ROOT)},
            check=True,
            capture_output=True,
            text=True,
        )
        measured[kind] = json.loads(out.stdout.strip().splitlines()[-1])
    return {"parameters": {"cases": cases, "warm": WARM}, **measured}


def summary(r: dict[str, Any]) -> str:
    s, b, e = (r[k]["rss_per_cached_case_kib"] for k in KINDS)
    return (
        "## A cached case beside the same calls alone\n\n"
        f"Worker RSS per case waiting on its first deadline, {r['parameters']['cases']} cases, each kind in a "
        "process of its own with the worker in it (so these figures include the client's share and are not "
        "those of `live_cases`). The baseline receives the same start-input bytes and makes the same calls "
        "until it waits, and keeps nothing else; beside it, the same calls with a 10-byte input.\n\n"
        "| | same calls, 10-byte input | same calls, the case's input | engine case | engine's own |\n"
        "|---|---|---|---|---|\n"
        f"| KiB per cached case | {s} | {b} | {e} | {round(e - b, 1)} |\n"
    )


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--cases", type=int, default=900)
    p.add_argument("--measure", choices=KINDS, help="measure one kind in this process and print its JSON")
    args = p.parse_args()
    if args.measure:
        print(json.dumps(asyncio.run(measure(args.measure, args.cases))))
    else:
        report("cached_case", asyncio.run(run(args.cases)), summary)


if __name__ == "__main__":
    main()
