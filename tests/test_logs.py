"""LOG_JSON: every line a process writes is one JSON object with its logger's name (uvicorn's start and access
lines, the SDK's core, ours), and no secret is in any line (an Open311 `api_key=` in the URL included)."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
from pathlib import Path

import httpx

from config import ROOT
from scripts.temporal_dev import free_port, stop_process
from tests.servers import dev_server

SECRET = "wk_never-in-a-log"


async def test_with_log_json_every_line_is_json_and_no_key_is_logged(tmp_path: Path) -> None:
    server, _, temporal_port = await dev_server()
    port = free_port()
    out = tmp_path / "api.log"
    env = {
        **os.environ,
        "LOG_JSON": "true",
        "DEMO_KEYS": "1",
        "DATABASE_URL": f"sqlite:///{tmp_path / 'cases.db'}",
        "TEMPORAL_ADDRESS": f"127.0.0.1:{temporal_port}",
    }
    with out.open("wb") as sink:
        api = subprocess.Popen(
            [sys.executable, "-m", "uvicorn", "api.main:app", "--host", "127.0.0.1", "--port", str(port)],
            cwd=ROOT,
            env=env,
            stdout=sink,
            stderr=subprocess.STDOUT,
        )
    try:
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=30) as http:
            for _ in range(200):
                try:
                    if (await http.get("/healthz")).status_code == 200:
                        break
                except httpx.TransportError:
                    await asyncio.sleep(0.1)
            reads = "/open311/v2/requests.json"
            assert (await http.get(reads, params={"api_key": "demo-open311"})).status_code == 200
            assert (await http.get(reads, params={"api_key": SECRET})).status_code == 403
            assert (await http.get("/cases", headers={"Authorization": f"Bearer {SECRET}"})).status_code == 401
            stop_process(server, "temporal")  # the SDK's core retries, and says so
            assert (await http.get("/healthz")).json()["temporal"] is False
    finally:
        stop_process(api, "api")
        stop_process(server, "temporal")
    lines = [line for line in out.read_text().splitlines() if line.strip()]
    records = [json.loads(line) for line in lines]  # fails on the first line that is not JSON
    assert all({"logger", "level", "event", "timestamp"} <= set(r) for r in records), records
    loggers = {r["logger"] for r in records}
    assert {"uvicorn.error", "uvicorn.access", "api.errors"} <= loggers, loggers
    access = [r["event"] for r in records if r["logger"] == "uvicorn.access" and "requests.json" in r["event"]]
    assert access and all("api_key=***" in line for line in access), access
    text = out.read_text()
    assert SECRET not in text and "demo-open311" not in text
