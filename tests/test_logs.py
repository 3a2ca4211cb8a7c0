"""LOG_JSON: every line a process writes is one JSON object with its logger's name (uvicorn's start and access
lines, the SDK's core, ours), and no secret is in any line (an Open311 `api_key=` in the URL included). On a
terminal or in JSON, a logged error shows its traceback and never the values of its local variables."""

from __future__ import annotations

import asyncio
import io
import json
import logging
import os
import subprocess
import sys
from pathlib import Path

import httpx
import pytest
import structlog

import logs
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


PHONE = "13912345678"


def _sign_for(phone: str) -> None:
    raise ValueError("签收失败")


@pytest.mark.parametrize("json_lines", [False, True])
def test_a_logged_error_shows_its_traceback_not_its_local_values(
    json_lines: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Locals carry what a case holds (a reporter's phone). Rendering them is also slow: from inside the sandbox of a
    # failing workflow task it ran past the SDK's 2 s deadlock timeout, which then hid the task's own error.
    root = logging.getLogger()
    handlers, level, config = root.handlers, root.level, structlog.get_config()
    stream = io.StringIO()
    monkeypatch.setattr(sys, "stderr", stream)
    try:
        logs.configure(json=json_lines)
        try:
            _sign_for(phone=PHONE)
        except ValueError:
            logging.getLogger("tests.logs").exception("activation_failed")
    finally:
        root.handlers, root.level = handlers, level
        structlog.configure(**config)
    text = stream.getvalue()
    assert "activation_failed" in text and "_sign_for" in text and "ValueError" in text, text
    assert PHONE not in text, text
