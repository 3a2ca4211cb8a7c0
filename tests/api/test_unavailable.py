"""Temporal briefly away: an action gets 503 with a retry hint, never a silent loss."""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import timedelta
from typing import Any

import httpx
import uvicorn
from temporalio.client import RPCTimeoutOrCancelledError
from temporalio.service import RPCError

from activities.db import engine_for
from activities.vault import ReporterVault
from api.main import create_app
from config import Settings
from models.case import case_id_for
from policy import load_policy
from services.intake import open_case
from tests.api.conftest import Stack, free_port, key
from tests.api.test_open311 import BASE, form
from tests.helpers import intake
from worker import build_worker


@asynccontextmanager
async def api_with(stack: Stack, **settings: Any) -> AsyncIterator[httpx.AsyncClient]:
    """A second API on the suite's read model and keys, with some settings changed."""
    cfg: Settings = stack.settings.model_copy(update={"api_port": free_port(), **settings})
    server = uvicorn.Server(uvicorn.Config(create_app(cfg), host="127.0.0.1", port=cfg.api_port, log_level="warning"))
    task = asyncio.create_task(server.serve())
    while not server.started:
        await asyncio.sleep(0.05)
    try:
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{cfg.api_port}", timeout=30) as api:
            yield api
    finally:
        server.should_exit = True
        await task


async def test_action_while_temporal_is_unreachable_is_503_with_retry_after(stack: Stack) -> None:
    async with api_with(stack, temporal_address=f"127.0.0.1:{free_port()}") as api:
        r = await api.post("/cases/case-hotline12345-any/sign", json={}, headers=key("grid-a1-1"))
        assert r.status_code == 503 and r.json()["code"] == "TemporalUnavailable"
        assert int(r.headers["retry-after"]) > 0
        assert (await api.get("/healthz")).status_code == 503


async def test_repeat_while_the_worker_is_away_answers_from_the_read_model(stack: Stack) -> None:
    """The worker that dispatched a case is gone (a restart): the channel's repeat of the ticket is answered
    with the case it already is, its status as last recorded, within the configured wait."""
    queue = f"queue-{uuid.uuid4().hex[:8]}"
    body = {
        "channel_ticket_id": uuid.uuid4().hex[:12],
        "category": "street_vending",
        "title": "占道经营",
        "description": "早市占道",
        "location": {"grid_id": "grid-a1-1", "address": "多福巷"},
        "reporter": {},
    }
    channel = key("hotline12345")
    async with api_with(stack, task_queue=queue, intake_wait_seconds=1.0) as api:
        worker = build_worker(stack.temporal, task_queue=queue, database_url=stack.settings.database_url)
        async with worker:
            first = await api.post("/cases", json=body, headers=channel)
        assert first.status_code == 201, first.text
        assert first.json()["status"] == "dispatched"
        again = await api.post("/cases", json=body, headers=channel)
        assert again.status_code == 202, again.text
        case = again.json()
        assert case["case_id"] == first.json()["case_id"] and case["created"] is False
        assert (case["status"], case["holder"]) == ("dispatched", "grid-a1-1")
    await stack.temporal.get_workflow_handle(case["case_id"]).terminate("test over")


async def test_intake_with_no_worker_answering_is_accepted_not_lost(stack: Stack) -> None:
    """Dispatch cannot happen in time (no worker polls the queue): the case is durable and said to be accepted,
    and a repeat of the ticket is answered as the same case rather than left hanging."""
    fresh = intake(uuid.uuid4().hex[:12])
    vault = ReporterVault(engine_for(stack.settings.database_url), stack.settings.vault_key)
    policy = load_policy(stack.settings.policy_dir)
    opened = await open_case(
        stack.temporal, "queue-nobody-polls", fresh, vault, None, timedelta(seconds=1), policy=policy
    )
    assert opened.view is None and not opened.existed
    desc = await opened.handle.describe()
    assert desc.status is not None and desc.status.name == "RUNNING"
    # The channel sends the ticket again while still nobody answers: the same case, known, nothing new started.
    again = await open_case(
        stack.temporal, "queue-nobody-polls", fresh, vault, None, timedelta(seconds=1), policy=policy
    )
    assert again.existed and again.view is None and again.handle.id == opened.handle.id
    await opened.handle.terminate("test over")


async def test_open311_intake_with_no_worker_answering_is_accepted_not_lost(stack: Stack) -> None:
    """The same through Open311: the request gets its id and a notice that dispatch is under way, the case is
    durable, and the channel's retry with the same Idempotency-Key is the same request."""
    headers = {"Idempotency-Key": f"app-{uuid.uuid4()}"}
    async with api_with(stack, task_queue="queue-nobody-polls", intake_wait_seconds=1.0) as api:
        first = await api.post(f"{BASE}/requests.json", data=form(), headers=headers)
        assert first.status_code == 201, first.text
        [created] = first.json()
        assert created["service_notice"] == "已受理，正在派单。"
        again = await api.post(f"{BASE}/requests.json", data=form(), headers=headers)
        assert again.status_code == 200, again.text
        assert again.json()[0]["service_request_id"] == created["service_request_id"]
    handle = stack.temporal.get_workflow_handle(created["service_request_id"])
    desc = await handle.describe()
    assert desc.status is not None and desc.status.name == "RUNNING"
    await handle.terminate("test over")


async def test_intake_out_of_time_claims_only_a_case_the_server_has(stack: Stack) -> None:
    """However short the wait, a case is said to be accepted only if the server has it; when the call ran out
    before the start was stored, the time-out reaches the caller (503: send the ticket again)."""
    vault = ReporterVault(engine_for(stack.settings.database_url), stack.settings.vault_key)
    policy = load_policy(stack.settings.policy_dir)
    accepted = 0
    for wait in (0.001, 0.003, 0.01, 0.03, 0.1, 1.0):
        fresh = intake(uuid.uuid4().hex[:12])
        handle = stack.temporal.get_workflow_handle(case_id_for(fresh.channel, fresh.channel_ticket_id))
        try:
            opened = await open_case(
                stack.temporal, "queue-nobody-polls", fresh, vault, None, timedelta(seconds=wait), policy=policy
            )
        except RPCTimeoutOrCancelledError:
            with contextlib.suppress(RPCError):  # stored after all, later than the caller could know
                await handle.terminate("test over")
            continue
        accepted += 1
        assert opened.view is None and not opened.existed
        desc = await handle.describe()
        assert desc.status is not None and desc.status.name == "RUNNING", f"accepted at {wait}s, but not stored"
        await handle.terminate("test over")
    assert accepted, "even a one-second wait never accepted"
