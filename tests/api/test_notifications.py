"""End to end, with every receiver failing: the case is signed at once and escalates on time; once the
receivers recover, every notice arrives, in order per recipient, and supervisors see it all."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
import pytest_asyncio
import uvicorn
from pydantic import SecretStr

from api.main import create_app
from bench.stack import short_policy_dir
from config import Settings
from notifications.__main__ import build_dispatcher
from scripts.temporal_dev import free_port
from tests.api.conftest import Stack, key
from tests.api.test_case_flow import new_case
from tests.helpers import until
from tests.notifications.receivers import SECRETS, WEBHOOK_SECRET, Receivers, policy_toml, receivers
from worker import build_worker

QUEUE = "api-notify-cases"
GRID_SLICE_SECONDS = 4.0
PHONE = "13912345678"
SUPERVISOR = key("supervisor-12345")


@dataclass
class Notified:
    api: httpx.AsyncClient
    rx: Receivers
    settings: Settings


@pytest_asyncio.fixture(scope="module")
async def notified(stack: Stack, tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Notified]:
    """A worker, the API and a dispatcher of their own on the session's Temporal, with a 4-second grid slice."""
    folder: Path = tmp_path_factory.mktemp("notify")
    policy = short_policy_dir(folder, grid_seconds=GRID_SLICE_SECONDS)
    async with receivers() as (rx, base):
        # the receivers fail for as long as the test needs: retried, never dead; a send may take a minute, so a
        # case that waited on one would wait longer than the test's client does
        toml = policy_toml(base, max_attempts=100_000, timeout="60", lease="70")
        (policy / "notifications.toml").write_text(toml, encoding="utf-8")
        cfg = Settings(
            temporal_address=stack.settings.temporal_address,
            task_queue=QUEUE,
            database_url=f"sqlite:///{folder / 'cases.db'}",
            policy_dir=policy,
            demo_keys=True,
            webhook_url=f"{base}/hook",
            webhook_secret=SecretStr(WEBHOOK_SECRET),
            notify_secrets={k: SecretStr(v) for k, v in SECRETS.items()},
            notify_poll_seconds=0.05,
            api_port=free_port(),
        )
        worker = build_worker(stack.temporal, task_queue=QUEUE, database_url=cfg.database_url, policy_dir=policy)
        dispatcher = build_dispatcher(cfg)
        api = uvicorn.Server(uvicorn.Config(create_app(cfg), host="127.0.0.1", port=cfg.api_port, log_level="warning"))
        tasks = [asyncio.create_task(t) for t in (worker.run(), dispatcher.run(), api.serve())]
        while not api.started:
            await asyncio.sleep(0.05)
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{cfg.api_port}", timeout=30) as http:
            yield Notified(api=http, rx=rx, settings=cfg)
        api.should_exit = True
        dispatcher.stop()
        await worker.shutdown()
        await asyncio.gather(*tasks)


async def test_failing_receivers_hold_no_case_back_and_recovered_ones_get_everything_in_order(
    notified: Notified,
) -> None:
    api, rx = notified.api, notified.rx
    rx.fail = "timeout"  # every send hangs at its receiver until released
    body = new_case(category="street_vending", title="占道经营", reporter={"name": "张三", "phone": PHONE})
    r = await api.post("/cases", json=body, headers=key("hotline12345"))
    assert r.status_code == 201, r.text
    case_id = r.json()["case_id"]
    c = f"/cases/{case_id}"

    await until(lambda: _held(rx))  # the dispatch notice is being sent, and its receiver does not answer
    r = await api.post(f"{c}/sign", json={}, headers=key("grid-a1-1"))
    assert r.status_code == 200 and r.json()["status"] == "handling"

    async def escalated() -> list[dict[str, str]]:
        events = (await api.get(f"{c}/timeline", headers=SUPERVISOR)).json()["data"]
        return [e for e in events if e["kind"] == "auto_escalate"]

    (escalation,) = await until(escalated)
    at, due = datetime.fromisoformat(escalation["at"]), datetime.fromisoformat(escalation["deadline"]["due_at"])
    # on time: the workflow's timer as this (shared) machine fires it; behind a failing receiver the escalation
    # used to wait on the projection's retries, minutes late or never
    assert 0 <= (at - due).total_seconds() < 5.0

    async def listed() -> list[dict[str, Any]]:
        r = await api.get(f"{c}/notifications", headers=SUPERVISOR)
        assert r.status_code == 200, r.text
        return list(r.json()["data"])

    # the community acts on it at once too, and its reply tells the reporter (by SMS, once it can)
    for action, payload in (("sign", {}), ("reply", {"result": "已劝离占道商贩"})):
        r = await api.post(f"{c}/{action}", json=payload, headers=key("comm-a1"))
        assert r.status_code == 200, r.text
    assert rx.held and not rx.received, "signed, escalated and replied while every send so far still hung"

    # the receivers now fail at once: everything queued, each lane's head retried, nothing delivered, nothing lost
    rx.fail = "500"
    rx.release.set()
    seen = await until(lambda: _tried(listed))
    assert {e["state"] for e in seen} == {"pending"} and not rx.received
    assert {e["recipient"] for e in seen} >= {"grid-a1-1", "comm-a1", "supervisor", "reporter"}
    assert (await api.get(f"{c}/notifications", headers=key("grid-a1-1"))).status_code == 403

    rx.fail = None
    done = await until(lambda: _all_delivered(listed))
    hooked = rx.keys("hook")
    assert sorted(hooked) == sorted({e["key"] for e in done}) and len(hooked) == len(set(hooked))
    for recipient in {e["recipient"] for e in done}:  # in order per recipient, as the case wrote them
        mine = [e["key"] for e in done if e["recipient"] == recipient and e["channel"] == "webhook"]
        assert [k for k in hooked if k in mine] == sorted(mine, key=lambda k: tuple(map(int, k.split(":")[-2:])))
    (sms,) = rx.on("sms")
    assert sms.body["phone"] == PHONE and PHONE not in str(done)

    wecom = [e for e in done if e["channel"] == "wecom-comm-a1"]
    assert len(rx.on("wecom")) == len(wecom) >= 2
    r = await api.post(f"{c}/notifications/{wecom[0]['id']}/resend", json={}, headers=SUPERVISOR)
    assert r.status_code == 409 and r.json()["code"] == "WrongState"
    r = await api.post(f"{c}/notifications/999999/resend", json={}, headers=SUPERVISOR)
    assert r.status_code == 404
    assert (await api.get("/cases/case-none/notifications", headers=SUPERVISOR)).status_code == 404

    text = (await api.get("/metrics")).text
    assert 'notifications{state="delivered"}' in text and "notification_retries" in text
    delivered = next(line for line in text.splitlines() if line.startswith('notifications{state="delivered"}'))
    assert float(delivered.split()[-1]) >= len(done)


async def _held(rx: Receivers) -> bool:
    return rx.held > 0


async def _tried(listed: Callable[[], Awaitable[list[dict[str, Any]]]]) -> list[dict[str, Any]] | None:
    """Once every channel has been tried more than once and the reporter's notice is queued."""
    found = await listed()
    tried = {e["channel"] for e in found if e["attempts"] >= 2}
    routed = {e["channel"] for e in found}
    reporter = any(e["recipient"] == "reporter" for e in found)
    return found if found and reporter and tried == routed else None


async def _all_delivered(listed: Callable[[], Awaitable[list[dict[str, Any]]]]) -> list[dict[str, Any]] | None:
    found = await listed()
    return found if found and all(e["state"] == "delivered" for e in found) else None
