"""Temporal briefly away: an action gets 503 with a retry hint, never a silent loss."""

from __future__ import annotations

import asyncio
import contextlib
import re
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
import typer
from sqlmodel import Session
from temporalio.client import RPCTimeoutOrCancelledError
from temporalio.service import RPCError, RPCStatusCode
from temporalio.worker import Worker

import starter
from api.errors import from_rpc
from config import Settings
from console.accounts import DEMO_PASSWORD
from models.case import CaseView, Status
from models.errors import ErrorCode
from models.intake import case_id_for
from models.tables import CaseRow
from policy import load_policy
from scripts.temporal_dev import free_port, stop_process
from services.intake import open_case, start_workflow
from store.db import engine_for
from store.vault import ReporterVault
from tests.api.conftest import Stack, api_with, key, serve
from tests.api.test_open311 import BASE, form
from tests.conftest import register_search_attributes
from tests.helpers import intake, unit
from tests.servers import dev_server
from worker import build_worker


async def test_action_while_temporal_is_unreachable_is_503_with_retry_after(stack: Stack) -> None:
    async with api_with(stack, temporal_address=f"127.0.0.1:{free_port()}") as api:
        r = await api.post("/cases/case-hotline12345-any/sign", json={}, headers=key("grid-a1-1"))
        assert r.status_code == 503 and r.json()["code"] == "TemporalUnavailable"
        assert int(r.headers["retry-after"]) > 0
        assert (await api.get("/healthz")).status_code == 503


async def test_console_intake_while_temporal_is_unreachable_keeps_the_form_and_says_send_again(stack: Stack) -> None:
    """The hotline operator submits a ticket while Temporal is away: the intake page again, as a page, with what
    was typed and a 503 saying to try later (the same ticket sent again is the same case)."""
    async with api_with(stack, temporal_address=f"127.0.0.1:{free_port()}") as api:
        page = await console_page(api, "hotline12345", "/console/intake")
        form = {
            "csrf_token": dict(_hidden_fields(page.text, "/console/intake"))["csrf_token"],
            "channel_ticket_id": uuid.uuid4().hex[:12],
            "category": "street_vending",
            "title": "占道经营",
            "description": "早市占道",
            "location.grid_id": "grid-a1-1",
            "location.address": "多福巷",
        }
        sent = await api.post("/console/intake", data=form)
    assert sent.status_code == 503 and "text/html" in sent.headers["content-type"], sent.text
    assert "请稍后重试" in sent.text and 'value="多福巷"' in sent.text


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


def own_queue(stack: Stack) -> tuple[str, Callable[[], Worker]]:
    """A task queue of the test's own, and a new worker for it each call: started and stopped, it is a worker
    that goes away and comes back."""
    queue = f"queue-{uuid.uuid4().hex[:8]}"
    return queue, lambda: build_worker(stack.temporal, task_queue=queue, database_url=stack.settings.database_url)


async def open_street_case(api: httpx.AsyncClient) -> str:
    """A street-vending case, taken in by the hotline while a worker runs."""
    created = await api.post("/cases", json=street_vending(), headers=key("hotline12345"))
    assert created.status_code == 201, created.text
    case_id: str = created.json()["case_id"]
    return case_id


def street_vending() -> dict[str, Any]:
    return {
        "channel_ticket_id": uuid.uuid4().hex[:12],
        "category": "street_vending",
        "title": "占道经营",
        "description": "早市占道",
        "location": {"grid_id": "grid-a1-1", "address": "多福巷"},
    }


async def test_an_action_while_the_worker_is_down_answers_in_time_and_is_done_once(stack: Stack) -> None:
    """No worker takes the sign: 503 within the wait, with the request id; sent again with it once a worker is
    back, the sign is done, and sent once more it answers the same, done once."""
    queue, worker = own_queue(stack)
    grid = key("grid-a1-1")

    async with api_with(stack, task_queue=queue, action_wait_seconds=1.0) as api:
        async with worker():
            case_id = await open_street_case(api)
        loop = asyncio.get_running_loop()
        started = loop.time()
        r = await api.post(f"/cases/{case_id}/sign", json={}, headers=grid)
        assert loop.time() - started < 5
        assert r.status_code == 503 and r.json()["code"] == "Busy", r.text
        request_id = r.json()["request_id"]
        assert r.headers["idempotency-key"] == request_id and int(r.headers["retry-after"]) > 0

        async with worker():
            again = await api.post(f"/cases/{case_id}/sign", json={}, headers={**grid, "Idempotency-Key": request_id})
            assert again.status_code == 200 and again.json()["status"] == "handling", again.text
            once_more = await api.post(
                f"/cases/{case_id}/sign", json={}, headers={**grid, "Idempotency-Key": request_id}
            )
            assert once_more.status_code == 200 and once_more.json()["last_seq"] == again.json()["last_seq"]
            timeline = await api.get(f"/cases/{case_id}/timeline", headers=key("supervisor-12345"))
    assert [e["kind"] for e in timeline.json()["data"]].count("sign") == 1
    await stack.temporal.get_workflow_handle(case_id).terminate("test over")


async def test_a_case_read_while_no_worker_answers_says_try_again_not_struck_off(
    stack: Stack, capsys: pytest.CaptureFixture[str]
) -> None:
    """Reading a case asks its workflow, which a worker answers: while none does, the read answers 503 with
    Retry-After (once "该诉求已销号", for an open case), its timeline still reads from the read model, and once a
    worker is back the same case answers, open."""
    queue, worker = own_queue(stack)
    supervisor = key("supervisor-12345")

    async with api_with(stack, task_queue=queue) as api:
        async with worker():
            case_id = await open_street_case(api)
        c = f"/cases/{case_id}"
        r = await api.get(c, headers=supervisor)
        assert r.status_code == 503 and r.json()["code"] in ("Busy", "TemporalUnavailable"), r.text
        assert int(r.headers["retry-after"]) > 0 and "idempotency-key" not in r.headers, r.headers
        assert (await api.get(f"{c}/timeline", headers=supervisor)).status_code == 200
        # So does the console's case page, as a page of the console.
        page = await console_page(api, "supervisor-12345", f"/console{c}")
        assert page.status_code == 503 and "text/html" in page.headers["content-type"], page.text
        assert "请稍后重试" in page.text and "已销号" not in page.text
        # The command line says the same, not "找不到诉求".
        with pytest.raises(typer.Exit) as shown:
            await starter.show_case(stack.temporal, case_id)
        assert shown.value.exit_code == 1 and "请稍后重试" in capsys.readouterr().err
        async with worker():
            r = await api.get(c, headers=supervisor)
    assert r.status_code == 200 and r.json()["case"]["status"] == "dispatched", r.text
    await stack.temporal.get_workflow_handle(case_id).terminate("test over")


async def test_a_console_action_while_no_worker_answers_says_try_again_and_is_done_once(stack: Stack) -> None:
    """The grid worker signs on the console while no worker runs: the page comes back, within the action wait and
    the case read's own, saying the sign was not done in time and may be sent again; sent again once a worker is
    back, the same form signs the case, once. (It used to wait for a worker without end.)"""
    queue, worker = own_queue(stack)

    async with api_with(stack, task_queue=queue, action_wait_seconds=1.0) as api:
        async with worker():
            case_id = await open_street_case(api)
            page = await console_page(api, "grid-a1-1", f"/console/cases/{case_id}")
        form = dict(_hidden_fields(page.text, f"/console/cases/{case_id}/act/sign"))
        sent = await asyncio.wait_for(api.post(f"/console/cases/{case_id}/act/sign", data=form), 30)
        assert sent.status_code == 503 and "text/html" in sent.headers["content-type"], sent.text
        assert "未能及时完成" in sent.text and "Idempotency-Key" not in sent.text
        async with worker():
            again = await api.post(f"/console/cases/{case_id}/act/sign", data=form)
            assert again.status_code == 303, again.text
            timeline = await api.get(f"/cases/{case_id}/timeline", headers=key("supervisor-12345"))
    assert [e["kind"] for e in timeline.json()["data"]].count("sign") == 1
    await stack.temporal.get_workflow_handle(case_id).terminate("test over")


async def test_a_cli_action_while_no_worker_answers_says_so_within_the_wait(
    stack: Stack, capsys: pytest.CaptureFixture[str]
) -> None:
    """`starter.py act` while no worker runs: it ends within the action wait saying the action was not done in
    time (it used to wait for a worker without end); sent again once a worker is back, the case is signed, once."""
    queue, worker = own_queue(stack)
    async with api_with(stack, task_queue=queue) as api:
        async with worker():
            case_id = await open_street_case(api)
        sign = starter.build_action("sign", unit("grid-a1-1"), [], None, None)
        with pytest.raises(typer.Exit) as ended:
            await asyncio.wait_for(starter.act_case(stack.temporal, case_id, *sign, None, wait=1.0), 30)
        said = capsys.readouterr().err
        assert ended.value.exit_code == 1 and "未能及时完成" in said, said
        request_id = re.search(r"--request-id (\S+)", said)
        assert request_id is not None, said
        async with worker():
            view = await starter.act_case(stack.temporal, case_id, *sign, None, request_id=request_id.group(1))
            timeline = await api.get(f"/cases/{case_id}/timeline", headers=key("supervisor-12345"))
    assert isinstance(view, CaseView) and view.status is Status.handling
    assert [e["kind"] for e in timeline.json()["data"]].count("sign") == 1
    await stack.temporal.get_workflow_handle(case_id).terminate("test over")


def _hidden_fields(html: str, action: str) -> list[tuple[str, str]]:
    """The hidden inputs of the page's form that posts to `action`."""
    start = html.index(f'action="{action}"')
    form = html[start : html.index("</form>", start)]
    return re.findall(r'<input type="hidden" name="([^"]+)" value="([^"]*)"', form)


async def console_page(api: httpx.AsyncClient, username: str, path: str) -> httpx.Response:
    """`path` as `username` sees it, logged in to the console with the demo password."""
    login = await api.get("/console/login")
    csrf = re.search(r'name="csrf_token" value="([^"]+)"', login.text)
    assert csrf is not None, login.text
    form = {"username": username, "password": DEMO_PASSWORD, "csrf_token": csrf.group(1)}
    assert (await api.post("/console/login", data=form)).status_code == 303
    return await api.get(path)


async def test_reads_piling_up_while_no_worker_answers_are_each_refused_within_the_read_wait(stack: Stack) -> None:
    """Reads of an open case with an action waiting for its worker, which is away, fill the server's query buffer;
    it refuses them as RESOURCE_EXHAUSTED and the client retries: each read still answers 503 within the read's wait
    (5 s), not after the client's retries too (10-20 s)."""
    queue, worker = own_queue(stack)
    supervisor = key("supervisor-12345")
    async with api_with(stack, task_queue=queue, action_wait_seconds=1.0) as api:
        async with worker():
            case_id = await open_street_case(api)
        loop = asyncio.get_running_loop()

        async def read() -> tuple[int, float]:
            started = loop.time()
            r = await api.get(f"/cases/{case_id}", headers=supervisor)
            return r.status_code, loop.time() - started

        # A sign is sent meanwhile: the server holds it for the case's next workflow task, and buffers the reads.
        sign = await api.post(f"/cases/{case_id}/sign", json={}, headers=key("grid-a1-1"))
        assert sign.status_code == 503, sign.text
        answers = await asyncio.gather(*(read() for _ in range(4)))
    assert all(status == 503 and took < 8 for status, took in answers), answers
    await stack.temporal.get_workflow_handle(case_id).terminate("test over")


def test_a_query_no_worker_could_answer_is_unavailable_not_struck_off() -> None:
    # The server's own answer when it has seen no poller on the case's queue for a while.
    err = RPCError("no poller seen for task queue recently, worker may be down", RPCStatusCode.FAILED_PRECONDITION, b"")
    assert (from_rpc(err).status, from_rpc(err).code) == (503, ErrorCode.temporal_unavailable)


async def test_temporal_dying_mid_request_answers_a_retryable_503(tmp_path: Path) -> None:
    """The Temporal server is killed while an action waits on it: 503 with Retry-After and the request id (the
    same request may be sent again once it is back), never a 5xx that says "do not retry"."""
    server, client, port = await dev_server()
    try:
        await register_search_attributes(client)
        handle = await start_workflow(client, "queue-nobody-polls", intake(uuid.uuid4().hex[:12]), policy=None)
        cfg = Settings(
            temporal_address=f"127.0.0.1:{port}",
            database_url=f"sqlite:///{tmp_path / 'cases.db'}",
            demo_keys=True,
            api_port=free_port(),
            action_wait_seconds=30.0,
        )
        # The read model knows the case (as if a worker had dispatched it), so the action goes to Temporal.
        with Session(engine_for(cfg.database_url)) as session:
            session.add(known_case(handle.id, holder="grid-a1-1"))
            session.commit()
        async with serve(cfg) as api:

            async def kill_soon() -> None:
                await asyncio.sleep(1)
                server.kill()

            killer = asyncio.create_task(kill_soon())
            r = await api.post(f"/cases/{handle.id}/sign", json={}, headers=key("grid-a1-1"))
            await killer
            assert r.status_code == 503, r.text
            assert r.json()["code"] in ("TemporalUnavailable", "Busy") and r.json()["request_id"]
            assert int(r.headers["retry-after"]) > 0
            health = await api.get("/healthz")
            assert health.status_code == 503 and health.json()["temporal"] is False
    finally:
        stop_process(server, "temporal")


def known_case(case_id: str, *, holder: str) -> CaseRow:
    return CaseRow(
        case_id=case_id,
        channel="hotline12345",
        channel_ticket_id=case_id,
        category="street_vending",
        title="占道经营",
        grid_id="grid-a1-1",
        status="dispatched",
        holder=holder,
        reported_at=datetime.now(UTC),
    )
