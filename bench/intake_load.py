"""Intake API under load: an open-loop client sends POST /cases at a fixed rate (each a new ticket, about 1% a
repeat of one already accepted) to the API on localhost; latency per request from its scheduled send time, status
codes, errors; afterwards every accepted case (201, or 202: started, dispatch under way) must be in the read
model once, and a repeated ticket must have answered 200 (202 while still dispatching) with the first answer's
id. Baseline in the same run: the same load against GET /units (same process, same middleware and key check,
reads only the in-memory policy), the framework + HTTP cost.

The worker and the API run as `make run` runs them, in processes of their own (the worker's WORKER_PROCESSES);
the load generator is this process, so it shares neither's GIL.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import tempfile
import time
import uuid
from collections.abc import Callable, Coroutine
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

from bench.common import report, rss_bytes, temporal_server
from bench.read_model import read_model, sqlite_path, wait_rows
from bench.stack import (
    CATEGORY,
    GRID,
    api_server,
    engine_worker,
    family_cpu_seconds,
    family_rss_bytes,
    mib,
    processes,
    spread,
    wait_for_http,
    wait_for_poller,
)
from config import settings
from policy import POLICY_DIR
from scripts.temporal_dev import free_port

QUEUE = "bench-intake"
CHANNEL = "hotline12345"
KEY = {"Authorization": f"Bearer demo-{CHANNEL}"}
REPEAT_EVERY = 100  # one request in this many repeats an accepted ticket
REPEAT_OFFSET = 20  # the first repeat is the 21st request, when earlier ones have been answered
WARM_UP = 10
ACCEPTED = (201, 202)  # 202: started and durable, dispatch still under way
ANSWERED = (200, *ACCEPTED)


@dataclass
class Sample:
    latency_ms: float
    lag_ms: float
    status: int  # 0: no response
    error: str | None = None
    ticket: str | None = None
    case_id: str | None = None
    created: bool | None = None
    repeat: bool = False


def body(ticket: str) -> dict[str, Any]:
    return {
        "channel_ticket_id": ticket,
        "category": CATEGORY,
        "title": "基准测试：占道经营",
        "description": "基准测试工单（负载）",
        "location": {"grid_id": GRID, "address": "测试地址"},
    }


async def open_loop(
    rate: float, seconds: float, send: Callable[[int, float], Coroutine[Any, Any, Sample]]
) -> tuple[list[Sample], float]:
    """Request i goes out at t0 + i/rate whether or not earlier ones were answered; latency counts from then.

    Returns the samples and the wall time the run took (until the last answer).
    """
    loop = asyncio.get_running_loop()
    n = int(rate * seconds)
    t0 = loop.time() + 0.05
    tasks: list[asyncio.Task[Sample]] = []
    for i in range(n):
        delay = t0 + i / rate - loop.time()
        if delay > 0:
            await asyncio.sleep(delay)
        tasks.append(asyncio.create_task(send(i, t0 + i / rate)))
    samples = await asyncio.gather(*tasks)
    return list(samples), loop.time() - t0


async def timed(
    http: httpx.AsyncClient, scheduled: float, method: str, url: str, json: dict[str, Any] | None = None
) -> tuple[Sample, dict[str, Any] | None]:
    loop = asyncio.get_running_loop()
    lag = (loop.time() - scheduled) * 1000
    try:
        resp = await http.request(method, url, json=json, headers=KEY)
    except httpx.HTTPError as err:
        return Sample((loop.time() - scheduled) * 1000, lag, 0, error=type(err).__name__), None
    latency = (loop.time() - scheduled) * 1000
    payload = resp.json() if resp.headers.get("content-type", "").startswith("application/json") else None
    error = None if resp.status_code < 400 else f"{resp.status_code}: {resp.text[:200]}"
    return Sample(latency, lag, resp.status_code, error=error), payload


def figures(samples: list[Sample], wall_s: float) -> dict[str, Any]:
    ok = [s for s in samples if s.status in ANSWERED]
    errors: dict[str, int] = {}
    for s in samples:
        if s.error:
            key = s.error.split(":", 1)[0]
            errors[key] = errors.get(key, 0) + 1
    return {
        "requests": len(samples),
        "ok": len(ok),
        "answered_202": sum(1 for s in samples if s.status == 202),
        "errors": sum(errors.values()),
        "errors_by_kind": errors,
        "achieved_rps": round(len(samples) / wall_s, 1) if wall_s else None,
        "latency_ms": spread([s.latency_ms for s in samples], 1),
        "max_send_lag_ms": round(max((s.lag_ms for s in samples), default=0), 1),
    }


async def run(rate: float = 50.0, seconds: float = 60.0) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="bench-intake-") as tmp_name:
        tmp = Path(tmp_name)
        database_url = f"sqlite:///{tmp / 'cases.db'}"
        port = free_port()
        base = f"http://127.0.0.1:{port}"
        async with temporal_server() as server:
            client = server.client
            with (
                engine_worker(server.address, QUEUE, database_url, POLICY_DIR, tmp / "worker.log") as worker,
                api_server(server.address, QUEUE, database_url, POLICY_DIR, port, tmp / "api.log") as api,
            ):
                await wait_for_poller(client, QUEUE, worker, tmp / "worker.log")
                await wait_for_http(f"{base}/units", api, tmp / "api.log", headers=KEY)
                limits = httpx.Limits(max_connections=2000, max_keepalive_connections=200)
                async with httpx.AsyncClient(base_url=base, timeout=30, limits=limits) as http:
                    loop = asyncio.get_running_loop()
                    prefix = uuid.uuid4().hex[:8]
                    for i in range(WARM_UP):  # warm-up: imports, connections, the workflow sandbox
                        await timed(http, loop.time(), "GET", "/units")
                        await timed(http, loop.time(), "POST", "/cases", body(f"warm-{prefix}-{i}"))

                    async def units(i: int, scheduled: float) -> Sample:
                        sample, _ = await timed(http, scheduled, "GET", "/units")
                        return sample

                    procs = {"api": api.pid, "worker": worker.pid, "temporal": server.process.pid}
                    cpu0 = {k: family_cpu_seconds(v) for k, v in procs.items()}
                    base_samples, base_wall = await open_loop(rate, seconds, units)
                    base_cpu = {k: round((family_cpu_seconds(v) - cpu0[k]) / base_wall, 2) for k, v in procs.items()}

                    accepted: list[tuple[str, str]] = []  # (ticket, case id) of answered 201s
                    rng = random.Random(7)

                    async def create(i: int, scheduled: float) -> Sample:
                        repeat = i % REPEAT_EVERY == REPEAT_OFFSET and bool(accepted)
                        ticket = rng.choice(accepted)[0] if repeat else f"load-{prefix}-{i}"
                        sample, payload = await timed(http, scheduled, "POST", "/cases", body(ticket))
                        sample.ticket, sample.repeat = ticket, repeat
                        if payload is not None and sample.status in ANSWERED:
                            sample.case_id, sample.created = payload.get("case_id"), payload.get("created")
                            if sample.status in ACCEPTED and not repeat:
                                accepted.append((ticket, str(sample.case_id)))
                        return sample

                    cpu0 = {k: family_cpu_seconds(v) for k, v in procs.items()}
                    samples, wall = await open_loop(rate, seconds, create)
                    cpu = {k: round((family_cpu_seconds(v) - cpu0[k]) / wall, 2) for k, v in procs.items()}
                api_rss, worker_rss = rss_bytes(api.pid), family_rss_bytes(worker.pid)
                check = await verify(samples, sqlite_path(database_url), client, prefix, WARM_UP)
                # What the requests cost in all: a saturated system is still working when the load stops.
                served = {
                    k: round((family_cpu_seconds(v) - cpu0[k]) / len(samples) * 1000, 1) for k, v in procs.items()
                }
    return {
        "parameters": {"rate_per_s": rate, "seconds": seconds, "repeat_every": REPEAT_EVERY},
        "baseline": {**figures(base_samples, base_wall), "cores_used": base_cpu},
        "engine": {**figures(samples, wall), **check, "cores_used": cpu, "cpu_ms_per_request_served": served},
        "cores": os.cpu_count(),
        "worker_processes": settings.worker_processes,
        "api_rss_mib": mib(api_rss),
        "worker_rss_mib": mib(worker_rss),
    }


async def verify(samples: list[Sample], db: Path, client: Any, prefix: str, warm_up: int) -> dict[str, Any]:
    """0 lost: every accepted case is in the read model (it is written before the 201). 0 duplicated: a repeat
    answers 200 with the first answer's id, and there is one workflow and one row per ticket sent, never more.
    """
    firsts = {s.ticket: s.case_id for s in samples if not s.repeat and s.status in ACCEPTED}
    repeats = [s for s in samples if s.repeat]
    # A request that failed (timeout, 5xx) may still have started its case, and a 202's case is written once
    # dispatched: count what exists once the worker has caught up, and compare with the tickets sent.
    tickets_sent = len({s.ticket for s in samples if not s.repeat}) + warm_up
    workflows = await count_cases(client)
    # A saturated worker dispatches the backlog after the load stops: give it the time it takes (~20 a second).
    rows_all, _ = await wait_rows(
        db, "SELECT count(*) FROM cases", workflows or 0, timeout=max(120.0, tickets_sent / 5)
    )
    rows = [
        (case_id, ticket)
        for case_id, ticket in read_model(db, "SELECT case_id, channel_ticket_id FROM cases")
        if ticket.startswith(f"load-{prefix}-")
    ]
    in_model = {case_id for case_id, _ in rows}
    lost = sorted(str(case_id) for case_id in firsts.values() if case_id not in in_model)
    # A repeat that failed (a timeout) is an error, counted as such; one answered must name the first case.
    repeat_wrong = [
        s.ticket
        for s in repeats
        if s.status in ANSWERED and (s.created is not False or s.case_id != firsts.get(s.ticket, s.case_id))
    ]
    return {
        "accepted": len(firsts),
        "repeats": len(repeats),
        "repeats_answered": sum(1 for s in repeats if s.status in ANSWERED),
        "repeats_wrong": len(repeat_wrong),
        "lost": len(lost),
        "lost_ids": lost[:20],
        "duplicated": len(repeat_wrong) + max(0, (workflows or 0) - tickets_sent) + max(0, rows_all - tickets_sent),
        "tickets_sent_all": tickets_sent,  # with the warm-up's
        "case_workflows_all": workflows,
        "read_model_rows_all": rows_all,
    }


async def count_cases(client: Any, settle: float = 2.0, timeout: float = 30) -> int | None:
    """Case workflows the server knows of, once two readings `settle` seconds apart agree (visibility lags)."""
    end = time.monotonic() + timeout
    last = None
    while True:
        try:
            count = int((await client.count_workflows("WorkflowType = 'Case'")).count)
        except Exception:  # a server without count support
            return None
        if count == last or time.monotonic() > end:
            return count
        last = count
        await asyncio.sleep(settle)


def _cores(side: dict[str, Any]) -> str:
    c = side["cores_used"]
    return f"{c['api']} / {c['worker']} / {c['temporal']}"


def _per_request(side: dict[str, Any]) -> str:
    c, rate = side["cores_used"], side["achieved_rps"] or 0
    if not rate:
        return "—"
    return " / ".join(f"{c[k] / rate * 1000:.0f}" for k in ("api", "worker", "temporal"))


def summary(r: dict[str, Any]) -> str:
    p, b, e = r["parameters"], r["baseline"], r["engine"]
    bl, el = b["latency_ms"], e["latency_ms"]
    served = e["cpu_ms_per_request_served"]
    cost = sum(served.values())

    def row(name: str, key: str) -> str:
        return f"| {name} | {bl.get(key, '—')} | {el.get(key, '—')} |\n"

    return (
        "## Intake API under load\n\n"
        f"Open loop, {p['rate_per_s']:g} requests/s for {p['seconds']:g} s (latency from each request's scheduled "
        f"time); 1 in {p['repeat_every']} POSTs repeats an accepted ticket. "
        f"Worker ({processes(r['worker_processes'])}) and API in processes of their own (SQLite read model).\n\n"
        "| | baseline (GET /units) | engine (POST /cases) |\n|---|---|---|\n"
        + row("p50 latency (ms)", "p50")
        + row("p99 latency (ms)", "p99")
        + row("max latency (ms)", "max")
        + f"| requests / errors | {b['requests']} / {b['errors']} | {e['requests']} / {e['errors']} |\n"
        f"| achieved rate (req/s) | {b['achieved_rps']} | {e['achieved_rps']} |\n"
        f"| accepted (201 dispatched, 202 dispatch pending) / lost | — | {e['accepted']} "
        f"({e['answered_202']} × 202) / **{e['lost']}** |\n"
        f"| repeats answered with the first id / wrongly / not answered | — | "
        f"{e['repeats_answered'] - e['repeats_wrong']} / {e['repeats_wrong']} / "
        f"{e['repeats'] - e['repeats_answered']} |\n"
        f"| duplicated | — | **{e['duplicated']}** |\n"
        f"| tickets sent / Case workflows / read-model rows (with warm-up) | — | {e['tickets_sent_all']} / "
        f"{e['case_workflows_all']} / {e['read_model_rows_all']} |\n"
        f"| CPU used (cores: API / worker / Temporal) | {_cores(b)} | {_cores(e)} |\n"
        f"| CPU per request during the load (ms: API / worker / Temporal) | {_per_request(b)} | "
        f"{_per_request(e)} |\n"
        f"| CPU per request until all were served (ms: API / worker / Temporal) | — | "
        f"{served['api']} / {served['worker']} / {served['temporal']} |\n\n"
        f"API RSS {r['api_rss_mib']} MiB, worker RSS {r['worker_rss_mib']} MiB after the run. "
        "Target: engine p99 ≤ 100 ms at 50 req/s, 0 lost.\n\n"
        f"What limits it: {cost:.0f} ms of CPU per request across the API, the worker and Temporal lets "
        f"{r['cores']} cores serve at most about {r['cores'] * 1000 / cost:.0f} requests/s, before the load "
        "generator's own share; a rate near or past that queues, and latency grows with the queue.\n"
        + (f"\nErrors: {e['errors_by_kind']}\n" if e["errors"] else "")
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rate", type=float, default=50.0, help="requests per second")
    parser.add_argument("--seconds", type=float, default=60.0)
    args = parser.parse_args()
    result = asyncio.run(run(args.rate, args.seconds))
    report("intake_load", result, summary)


if __name__ == "__main__":
    main()
