"""Live cases: M cases waiting on their timers at once. What does each cost the worker (RSS) and the server
(its SQLite database), and do they still escalate on time afterwards? Against M bare timer workflows
(bench/timer_baseline.py) measured the same way, each kind on a fresh dev server with a database file.

The worker runs as `python worker.py` in processes of its own (WORKER_PROCESSES), so their RSS is theirs. `sample`
of the M cases are general cases on the short policy with a grid slice of `slice` seconds; the others are the same
case filed as 疑难 (complex: slices in working days), so none of them fires while measured. The sample and the
EVICT_AFTER cases after it are started once the fleet before them is dispatched: those push the sample out of the
worker's cache (WORKFLOW_CACHE, shared among its processes), and its slice ends soon after the fleet is waiting,
however long starting the fleet takes. Each sample case must then record an automatic escalation to the community
at its deadline, replayed among the M.

RSS per cached workflow is measured, for either kind, once as many as the worker caches are waiting: past that,
the worker keeps no more of them in memory, and what the evicted ones add after is reported apart.

The baseline's per-workflow figures come from `baseline_cases` bare timers (fewer than M by default: starting
20,000 of them takes the server about ten minutes of a 2-core machine and tells nothing more per workflow).
"""

from __future__ import annotations

import argparse
import asyncio
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

from temporalio.client import Client

from bench.common import report, rss_bytes, temporal_server
from bench.read_model import count_rows, grid_escalations, sqlite_path, wait_rows
from bench.stack import (
    COMMUNITY,
    cpu_seconds,
    db_bytes,
    engine_worker,
    family_cpu_seconds,
    family_rss_bytes,
    mib,
    processes,
    short_policy_dir,
    spread,
    start_case,
    start_many,
    timer_worker,
    wait_for_poller,
    wait_idle,
)
from bench.timer_baseline import TimerWorkflow
from config import settings
from models.policy import Urgency
from policy import load_policy

QUEUE = "bench-live"
TIMER_QUEUE = "bench-live-timer"
ON_TIME = 1.0  # seconds: an escalation later than this after its deadline is counted as late


CACHE = settings.workflow_cache  # what the worker's processes keep in memory, all together
# Cases started after the sample, enough to evict it from every process's share of the cache, however the
# processes happen to divide them.
EVICT_AFTER = CACHE + 300


def footprint(before: dict[str, float], full: dict[str, float], after: dict[str, float], n: int) -> dict[str, Any]:
    """What n workflows waiting on timers cost. RSS grows per *cached* workflow: `full` is measured when the
    first min(n, CACHE) were waiting, as many as the worker keeps; what the evicted rest cost after is its own row."""
    grew = after["server_db"] - before["server_db"]
    return {
        "worker_rss_mib_idle_before": mib(before["rss"]),
        "worker_rss_mib": mib(after["rss"]),
        "worker_rss_per_cached_workflow_kib": round((full["rss"] - before["rss"]) / min(n, CACHE) / 1024, 1),
        "worker_rss_growth_once_cache_full_mib": mib(after["rss"] - full["rss"]),
        "server_db_mib": mib(after["server_db"]),
        "server_db_per_case_kib": round(grew / n / 1024, 2),
        "server_rss_mib": mib(after["server_rss"]),
        "worker_cpu_per_case_ms": round((after["cpu"] - before["cpu"]) / n * 1000, 1),
        "server_cpu_per_case_ms": round((after["server_cpu"] - before["server_cpu"]) / n * 1000, 1),
    }


def measure(worker_pid: int, server_pid: int, db: Path) -> dict[str, float]:
    return {
        "rss": family_rss_bytes(worker_pid),
        "cpu": family_cpu_seconds(worker_pid),
        "server_db": db_bytes(db),
        "server_rss": rss_bytes(server_pid),
        "server_cpu": cpu_seconds(server_pid),
    }


FLEET_SLEEP = 86400.0  # the baseline's timers: a day, so none fires during the run


async def baseline(n: int, concurrency: int, tmp: Path) -> dict[str, Any]:
    db = tmp / "timer-temporal.db"
    async with temporal_server(db_path=db) as server:
        client = server.client
        log = tmp / "timer-worker.log"
        with timer_worker(server.address, TIMER_QUEUE, log) as proc:
            await wait_for_poller(client, TIMER_QUEUE, proc, log)
            await wait_idle(client, TIMER_QUEUE, proc.pid, timeout=60)
            before = measure(proc.pid, server.process.pid, db)
            released = time.monotonic()

            async def one(_: int) -> None:
                await client.start_workflow(
                    TimerWorkflow.run, FLEET_SLEEP, id=f"timer-{uuid.uuid4().hex}", task_queue=TIMER_QUEUE
                )

            cached = min(n, CACHE)
            start_s = await start_many(cached, concurrency, one)
            await wait_idle(client, TIMER_QUEUE, proc.pid, timeout=max(600.0, n / 5))
            full = measure(proc.pid, server.process.pid, db)
            start_s += await start_many(n - cached, concurrency, one)
            await wait_idle(client, TIMER_QUEUE, proc.pid, timeout=max(600.0, n / 5))
            idle_s = time.monotonic() - released
            after = measure(proc.pid, server.process.pid, db)
    return {"start_s": round(start_s, 1), "all_waiting_s": round(idle_s, 1), **footprint(before, full, after, n)}


async def engine(n: int, slice_seconds: float, concurrency: int, sample: int, tmp: Path) -> dict[str, Any]:
    db = tmp / "engine-temporal.db"
    policy_dir = short_policy_dir(tmp, grid_seconds=slice_seconds)
    database_url = f"sqlite:///{tmp / 'cases.db'}"
    read_db = sqlite_path(database_url)
    policy = load_policy(policy_dir)
    async with temporal_server(db_path=db) as server:
        client: Client = server.client
        log = tmp / "worker.log"
        with engine_worker(server.address, QUEUE, database_url, policy_dir, log) as proc:
            await wait_for_poller(client, QUEUE, proc, log)
            await wait_idle(client, QUEUE, proc.pid, timeout=60)
            before = measure(proc.pid, server.process.pid, db)
            read_before = db_bytes(read_db)
            prefix = uuid.uuid4().hex[:8]
            ids: list[str] = [""] * n
            released = time.monotonic()

            first = max(0, n - EVICT_AFTER - sample)

            async def one(i: int) -> None:
                # The sample is general (its grid slice ends in `slice_seconds`); the fleet (complex) never fires.
                urgency = None if first <= i < first + sample else Urgency.complex
                ids[i] = await start_case(client, QUEUE, f"live-{prefix}-{i:06d}", policy, urgency)

            dispatched_sql = "SELECT count(*) FROM cases WHERE status != 'intake'"
            # As many as the worker caches first, measured once they wait: its RSS per cached case. A fleet too
            # small to fill the cache (a quick run) is measured at the end instead.
            cached = min(first, CACHE)
            start_s = await start_many(cached, concurrency, one)
            full: dict[str, float] | None = None
            if cached == CACHE:
                await wait_rows(read_db, dispatched_sql, cached, timeout=max(900.0, n / 2))
                await wait_idle(client, QUEUE, proc.pid, timeout=max(600.0, n / 5))
                full = measure(proc.pid, server.process.pid, db)
            start_s += await start_many(first - cached, concurrency, lambda i: one(cached + i))
            # The sample and the cases that evict it start once the fleet before them is dispatched: its slice
            # then runs on a worker that has caught up, however long the backlog before it took.
            await wait_rows(read_db, dispatched_sql, first, timeout=max(900.0, n / 2))
            start_s += await start_many(n - first, concurrency, lambda i: one(first + i))
            dispatched, _ = await wait_rows(read_db, dispatched_sql, n, timeout=max(900.0, n / 2))
            dispatched_s = time.monotonic() - released
            await wait_idle(client, QUEUE, proc.pid, timeout=max(600.0, n / 5))
            idle_s = time.monotonic() - released
            after = measure(proc.pid, server.process.pid, db)
            read_after = db_bytes(read_db)
            fired_while_starting = count_rows(
                read_db, "SELECT count(*) FROM case_events WHERE kind IN ('urge', 'overdue')"
            )
            chosen = ids[first : first + sample]
            wait_until = time.monotonic() + slice_seconds + 120
            escalations: dict[str, Any] = {}
            while time.monotonic() < wait_until:
                escalations = grid_escalations(read_db, chosen)
                if len(escalations) >= len(chosen):
                    break
                await asyncio.sleep(1)
            rss_after_escalations = family_rss_bytes(proc.pid)
    late = [(at - due).total_seconds() for at, due, _ in escalations.values()]
    return {
        "start_s": round(start_s, 1),
        "dispatched": dispatched,
        "all_dispatched_s": round(dispatched_s, 1),
        "all_waiting_s": round(idle_s, 1),
        "sample_points_fired_before_measuring": fired_while_starting,
        **footprint(before, full or after, after, n),
        "read_model_mib": mib(read_after),
        "read_model_per_case_kib": round((read_after - read_before) / n / 1024, 2),
        "sample": {
            "cases": len(chosen),
            "escalated": len(escalations),
            "wrong_target": sum(1 for _, _, to in escalations.values() if to != COMMUNITY),
            "late_over_1s": sum(1 for x in late if x > ON_TIME),
            "early": sum(1 for x in late if x < 0),
            "lateness_s": spread(late),
            "worker_rss_mib_after": mib(rss_after_escalations),
        },
    }


async def run(
    cases: int = 20000,
    slice_seconds: float = 100.0,
    concurrency: int = 50,
    sample: int = 100,
    baseline_cases: int = 1000,
) -> dict[str, Any]:
    sample, baseline_cases = min(sample, cases), min(baseline_cases, cases)
    with tempfile.TemporaryDirectory(prefix="bench-live-") as tmp_name:
        tmp = Path(tmp_name)
        started = time.monotonic()
        base = await baseline(baseline_cases, concurrency, tmp)
        base_s = time.monotonic() - started
        eng = await engine(cases, slice_seconds, concurrency, sample, tmp)
        eng_s = time.monotonic() - started - base_s
    return {
        "parameters": {
            "cases": cases,
            "slice_seconds": slice_seconds,
            "start_concurrency": concurrency,
            "sample": sample,
            "baseline_cases": baseline_cases,
            "worker_processes": settings.worker_processes,
            "workflow_cache": CACHE,
        },
        "baseline": base,
        "engine": eng,
        "took_s": {"baseline": round(base_s, 1), "engine": round(eng_s, 1)},
    }


def _workers(n: int, cache: int) -> str:
    if n == 1:
        return f"one process, caching {cache} workflows"
    return f"{processes(n)} caching {cache} workflows between them; RSS and CPU are their sum"


def summary(r: dict[str, Any]) -> str:
    p, b, e, s = r["parameters"], r["baseline"], r["engine"], r["engine"]["sample"]

    def row(name: str, key: str) -> str:
        return f"| {name} | {b[key]} | {e[key]} |\n"

    notes = []
    if e["sample_points_fired_before_measuring"]:
        notes.append(
            f"{e['sample_points_fired_before_measuring']} of the sample's 催办/超期 points fired before the fleet was "
            "all waiting: the sample escalated while the fleet was still being started."
        )
    if e["dispatched"] < p["cases"]:
        notes.append(f"**Only {e['dispatched']} of {p['cases']} cases were dispatched.**")
    sl = s["lateness_s"]
    return (
        "## Live cases\n\n"
        f"{p['cases']} cases waiting on their timers at once, against {p['baseline_cases']} bare workflows sleeping "
        "a day; each kind on a fresh dev server with a SQLite file, the worker on its own "
        f"({_workers(p['worker_processes'], p['workflow_cache'])}). {p['sample']} of the cases, "
        f"started with the last {EVICT_AFTER} once the others were dispatched (so evicted from the cache by those), "
        "are general with a "
        f"{p['slice_seconds']:g} s grid slice; the rest are filed as 疑难 (slices in working days), so that none "
        "fires while measured.\n\n"
        f"| | baseline ({p['baseline_cases']} bare timers) | engine ({p['cases']} cases at the grid) |\n"
        "|---|---|---|\n"
        + row("worker RSS (MiB)", "worker_rss_mib")
        + row("worker RSS idle before (MiB)", "worker_rss_mib_idle_before")
        + row(
            "worker RSS growth per cached workflow (KiB; once the cache is full)", "worker_rss_per_cached_workflow_kib"
        )
        + row("worker RSS growth after that, evicted workflows (MiB)", "worker_rss_growth_once_cache_full_mib")
        + row("server DB (MiB, data + WAL)", "server_db_mib")
        + row("server DB per case (KiB)", "server_db_per_case_kib")
        + row("server RSS (MiB)", "server_rss_mib")
        + row("worker CPU per workflow started (ms)", "worker_cpu_per_case_ms")
        + row("server CPU per workflow started (ms)", "server_cpu_per_case_ms")
        + row("start RPCs took (s; the engine's in two parts)", "start_s")
        + f"| all dispatched after (s) | — | {e['all_dispatched_s']} ({e['dispatched']} cases) |\n"
        + row("all waiting on timers after (s)", "all_waiting_s")
        + f"| read model (MiB; per case KiB) | — | {e['read_model_mib']}; {e['read_model_per_case_kib']} |\n\n"
        f"Afterwards, the sample of {s['cases']}: {s['escalated']} escalated to the community "
        f"({s['wrong_target']} to a wrong unit, {s['late_over_1s']} more than {ON_TIME:g} s late, {s['early']} early); "
        f"lateness p50 {sl.get('p50', '—')} s, max {sl.get('max', '—')} s; worker RSS then "
        f"{s['worker_rss_mib_after']} MiB.\n\n"
        f"Took {r['took_s']['baseline']} s (baseline) + {r['took_s']['engine']} s (engine). "
        "Target: 20,000 live cases with worker RSS ≤ 1 GiB.\n" + "".join(f"\n{n}\n" for n in notes)
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--cases", type=int, default=20000)
    parser.add_argument("--slice", type=float, default=100.0, help="the sample's grid slice in seconds")
    parser.add_argument("--concurrency", type=int, default=50)
    parser.add_argument("--sample", type=int, default=100)
    parser.add_argument("--baseline-cases", type=int, default=1000)
    args = parser.parse_args()
    result = asyncio.run(run(args.cases, args.slice, args.concurrency, args.sample, args.baseline_cases))
    report("live_cases", result, summary)


if __name__ == "__main__":
    main()
