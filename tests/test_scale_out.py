"""Scaled out as production runs it: two API processes and two worker processes on one Temporal server and one
PostgreSQL database. Every ticket, sent to both APIs at once, is one case; every action, sent to either, is
done once, even when a worker process is killed in the middle; the SDK's worker metrics are served."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import uuid
from collections import Counter
from typing import Any

import httpx
from sqlmodel import Session, col, select

from config import ROOT
from models.tables import CaseRow, EventRow
from scripts.temporal_dev import free_port, stop_process
from store.db import engine_for
from tests.api.conftest import key
from tests.api.test_unavailable import street_vending
from tests.conftest import migrated_database
from tests.postgres import PostgresServer
from tests.servers import dev_server

TICKETS = 12
QUEUE = "scale-out"


def spawn(args: list[str], env: dict[str, str]) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [sys.executable, *args], cwd=ROOT, env={**os.environ, **env}, stdout=subprocess.DEVNULL, stderr=None
    )


async def until_up(url: str) -> None:
    async with httpx.AsyncClient(timeout=5) as http:
        for _ in range(300):
            try:
                if (await http.get(url)).status_code < 500:
                    return
            except httpx.TransportError:
                pass
            await asyncio.sleep(0.1)
    raise AssertionError(f"{url} never answered")


async def act(http: httpx.AsyncClient, path: str, who: str, body: dict[str, Any] | None = None) -> httpx.Response:
    """As a unit would: on 503 or 202, the same request again with the request id it was given."""
    headers = key(who)
    for _ in range(30):
        r = await http.post(path, json=body or {}, headers=headers)
        if r.status_code not in (202, 503):
            return r
        headers = {**key(who), "Idempotency-Key": r.json().get("request_id") or uuid.uuid4().hex}
        await asyncio.sleep(0.5)
    raise AssertionError(f"{path} never went through: {r.text}")


async def test_two_apis_and_two_workers_lose_nothing_and_double_nothing(postgres: PostgresServer) -> None:
    database_url = migrated_database(postgres)
    server, _, temporal_port = await dev_server()
    env = {"DATABASE_URL": database_url, "TEMPORAL_ADDRESS": f"127.0.0.1:{temporal_port}", "TASK_QUEUE": QUEUE}
    metrics_ports = [free_port(), free_port()]
    workers = [
        spawn(["worker.py"], {**env, "WORKER_PROCESSES": "1", "TEMPORAL_METRICS_BIND": f"127.0.0.1:{p}"})
        for p in metrics_ports
    ]
    api_ports = [free_port(), free_port()]
    apis: list[subprocess.Popen[bytes]] = []
    try:
        for port in api_ports:  # one after the other: the first seeds the demo keys
            apis.append(spawn(["-m", "uvicorn", "api.main:app", "--port", str(port)], {**env, "DEMO_KEYS": "1"}))
            await until_up(f"http://127.0.0.1:{port}/healthz")
        https = [httpx.AsyncClient(base_url=f"http://127.0.0.1:{p}", timeout=60) for p in api_ports]
        channel = key("hotline12345")

        # Every ticket to both APIs at once.
        bodies = [street_vending() for _ in range(TICKETS)]
        answers = await asyncio.gather(*(h.post("/cases", json=b, headers=channel) for b in bodies for h in https))
        assert all(a.status_code in (200, 201, 202) for a in answers), [a.text for a in answers]
        case_ids = [answers[2 * i].json()["case_id"] for i in range(TICKETS)]
        assert [answers[2 * i + 1].json()["case_id"] for i in range(TICKETS)] == case_ids
        assert len(set(case_ids)) == TICKETS

        # Sign through one API, reply through the other; a worker process dies halfway through the signs.
        half = TICKETS // 2
        signs = [act(https[i % 2], f"/cases/{c}/sign", "grid-a1-1") for i, c in enumerate(case_ids)]
        done = await asyncio.gather(*signs[:half])
        workers[0].kill()
        done += await asyncio.gather(*signs[half:])
        assert all(r.status_code == 200 and r.json()["status"] == "handling" for r in done), [r.text for r in done]
        replies = [
            act(https[(i + 1) % 2], f"/cases/{c}/reply", "grid-a1-1", {"result": "已劝离"})
            for i, c in enumerate(case_ids)
        ]
        assert all(r.status_code == 200 for r in await asyncio.gather(*replies))

        metrics = httpx.get(f"http://127.0.0.1:{metrics_ports[1]}/metrics", timeout=10).text
        assert "temporal_worker_task_slots_available" in metrics, metrics[:2000]
        assert "temporal_workflow_task_execution_latency_seconds_bucket" in metrics
        for h in https:
            await h.aclose()
    finally:
        for proc in [*apis, *workers]:
            stop_process(proc, "scale-out")
        stop_process(server, "temporal")

    with Session(engine_for(database_url)) as session:
        rows = session.exec(select(CaseRow).where(col(CaseRow.case_id).in_(case_ids))).all()
        events = session.exec(select(EventRow).where(col(EventRow.case_id).in_(case_ids))).all()
    assert len(rows) == TICKETS and all(r.status == "replied" for r in rows)
    per_case = Counter((e.case_id, e.kind) for e in events)
    for case_id in case_ids:
        assert [per_case[(case_id, k)] for k in ("intake", "dispatch", "sign", "reply")] == [1, 1, 1, 1], case_id
    assert len({(e.case_id, e.seq) for e in events}) == len(events)
