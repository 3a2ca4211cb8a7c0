"""History size of the demo path: the events and bytes `python starter.py demo` leaves in its case's history and
its whistle's, by kind, against a pair of workflows that take exactly the same calls and do nothing else.

The baseline case takes the engine case's updates in the same order and starts a child at its `whistle`; the
baseline whistle takes the engine whistle's updates and, for each, signals its parent as many times as the
engine's whistle told its case. What the engine records beyond that pair (local-activity markers of the
projection, search attributes, timers, the patch marker) is its own work; the pair is Temporal's floor for the
calls the demo path makes.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import io
import logging
import tempfile
import uuid
from collections import Counter
from typing import Any

from temporalio.api.enums.v1 import EventType
from temporalio.client import Client, WithStartWorkflowOperation, WorkflowHandle
from temporalio.client import WorkflowHistory as History
from temporalio.common import WorkflowIDConflictPolicy
from temporalio.service import RPCError
from temporalio.worker import Worker

import logs
from bench.baseline import BaselineCase, BaselineWhistle
from bench.common import report, temporal_server
from models.whistle import whistle_workflow_id
from scripts import demo
from store.db import engine_for
from store.vault import ReporterVault
from worker import build_worker

QUEUE = "bench-history"
BASE_QUEUE = "bench-history-base"


def updates_of(history: History) -> list[str]:
    return [
        e.workflow_execution_update_accepted_event_attributes.accepted_request.input.name
        for e in history.events
        if e.event_type == EventType.EVENT_TYPE_WORKFLOW_EXECUTION_UPDATE_ACCEPTED
    ]


def signals_per_update(history: History) -> list[int]:
    """For each update the whistle accepted, the signals it sent its case before the next one."""
    counts: list[int] = []
    for e in history.events:
        if e.event_type == EventType.EVENT_TYPE_WORKFLOW_EXECUTION_UPDATE_ACCEPTED:
            counts.append(0)
        elif e.event_type == EventType.EVENT_TYPE_SIGNAL_EXTERNAL_WORKFLOW_EXECUTION_INITIATED and counts:
            counts[-1] += 1
    return counts


def figures(history: History) -> dict[str, Any]:
    kinds = Counter(EventType.Name(e.event_type).removeprefix("EVENT_TYPE_").lower() for e in history.events)
    return {
        "events": len(history.events),
        "bytes": sum(e.ByteSize() for e in history.events),
        "by_kind": dict(kinds.most_common()),
    }


async def engine_demo(client: Client, db_url: str) -> tuple[History, History]:
    vault = ReporterVault(engine_for(db_url), "bench-vault-key")
    with contextlib.redirect_stdout(io.StringIO()):  # the demo narrates every step
        case_id = await demo.run_demo(client, QUEUE, vault)
    case = await client.get_workflow_handle(case_id).fetch_history()
    whistle = await client.get_workflow_handle(whistle_workflow_id(case_id, 1)).fetch_history()
    return case, whistle


async def _step_when_ready(whistle: WorkflowHandle[Any, Any], signals: int) -> None:
    """As the demo waits for its whistle to start: a child whose first task has not run refuses updates."""
    for _ in range(100):
        try:
            await whistle.execute_update(BaselineWhistle.step, signals)
            return
        except RPCError:
            await asyncio.sleep(0.05)
    await whistle.execute_update(BaselineWhistle.step, signals)


async def baseline_demo(client: Client, case_updates: list[str], whistle_signals: list[int]) -> tuple[History, History]:
    wf_id = f"base-{uuid.uuid4().hex}"
    start = WithStartWorkflowOperation(
        BaselineCase.run,
        len(case_updates),
        id=wf_id,
        task_queue=BASE_QUEUE,
        id_conflict_policy=WorkflowIDConflictPolicy.FAIL,
    )
    n = len(whistle_signals)
    await client.execute_update_with_start_workflow(
        BaselineCase.step, args=[case_updates[0], n], start_workflow_operation=start
    )
    case = await start.workflow_handle()
    for name in case_updates[1:]:
        await case.execute_update(BaselineCase.step, args=[name, n])
        if name == "whistle":
            whistle = client.get_workflow_handle(f"{wf_id}-whistle")
            for signals in whistle_signals:
                await _step_when_ready(whistle, signals)
            await whistle.result()
    await case.result()
    return await case.fetch_history(), await client.get_workflow_handle(f"{wf_id}-whistle").fetch_history()


async def run() -> dict[str, Any]:
    logs.configure(level=logging.WARNING)
    async with temporal_server() as server:
        client = server.client
        with tempfile.TemporaryDirectory() as tmp:
            db = f"sqlite:///{tmp}/cases.db"
            engine = build_worker(client, task_queue=QUEUE, database_url=db)
            base = Worker(client, task_queue=BASE_QUEUE, workflows=[BaselineCase, BaselineWhistle])
            async with engine, base:
                case, whistle = await engine_demo(client, db)
                case_updates, whistle_signals = updates_of(case), signals_per_update(whistle)
                base_case, base_whistle = await baseline_demo(client, case_updates, whistle_signals)
    return {
        "parameters": {
            "path": "python starter.py demo",
            "case_updates": case_updates,
            "whistle_signals_per_update": whistle_signals,
        },
        "engine": {"case": figures(case), "whistle": figures(whistle)},
        "baseline": {"case": figures(base_case), "whistle": figures(base_whistle)},
    }


KINDS = (
    ("workflow tasks (scheduled, started, completed or failed)", ("workflow_task_scheduled", "workflow_task_started",
                                                                  "workflow_task_completed", "workflow_task_failed")),
    ("updates (accepted, completed)", ("workflow_execution_update_accepted", "workflow_execution_update_completed")),
    ("signals from the whistle", ("workflow_execution_signaled",)),
    ("signals to the case", ("signal_external_workflow_execution_initiated", "external_workflow_execution_signaled")),
    ("local-activity markers (the projection) and the patch marker", ("marker_recorded",)),
    ("search-attribute upserts", ("upsert_workflow_search_attributes",)),
    ("timers (started, fired, cancelled)", ("timer_started", "timer_fired", "timer_canceled")),
)  # fmt: skip


def summary(r: dict[str, Any]) -> str:
    p, e, b = r["parameters"], r["engine"], r["baseline"]
    rows = ""
    for label, kinds in KINDS:
        cells = [sum(side[w]["by_kind"].get(k, 0) for k in kinds) for side in (b, e) for w in ("case", "whistle")]
        rows += f"| {label} | {cells[0]} | {cells[2]} | {cells[1]} | {cells[3]} |\n"
    listed = {k for _, kinds in KINDS for k in kinds}
    rest = [
        sum(n for k, n in side[w]["by_kind"].items() if k not in listed) for side in (b, e) for w in ("case", "whistle")
    ]
    rows += f"| start, child, completion | {rest[0]} | {rest[2]} | {rest[1]} | {rest[3]} |\n"
    total = (
        f"| **events** | **{b['case']['events']}** | **{e['case']['events']}** | **{b['whistle']['events']}** | "
        f"**{e['whistle']['events']}** |\n"
        f"| bytes | {b['case']['bytes']:,} | {e['case']['bytes']:,} | {b['whistle']['bytes']:,} | "
        f"{e['whistle']['bytes']:,} |\n"
    )
    return (
        "## History of the demo path\n\n"
        f"`{p['path']}` on a dev server with the worker in this process: the case took {len(p['case_updates'])} "
        f"updates ({', '.join(p['case_updates'])}), its whistle {len(p['whistle_signals_per_update'])}, which told "
        f"the case {sum(p['whistle_signals_per_update'])} times. The baseline is a pair of workflows that take the "
        "same calls and do nothing else.\n\n"
        "| events | baseline case | engine case | baseline whistle | engine whistle |\n"
        "|---|---|---|---|---|\n"
        f"{rows}{total}\n"
        "Target: ≤ 60 events for the demo case. The baseline case is what Temporal records for the calls alone.\n"
    )


def main() -> None:
    argparse.ArgumentParser(description=__doc__).parse_args()
    report("history", asyncio.run(run()), summary)


if __name__ == "__main__":
    main()
