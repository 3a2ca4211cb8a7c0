"""Deadlines on the working-day calendar, computed by the activity and kept in the case."""

from __future__ import annotations

import asyncio
import shutil
from collections.abc import AsyncIterator
from datetime import date, datetime, time, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
import pytest_asyncio
from temporalio.client import Client
from temporalio.testing import WorkflowEnvironment

from models.timeline import DeadlineKind
from policy import POLICY_DIR
from tests.helpers import ready, server_now, start_case
from worker import build_worker
from workflows.case import CaseWorkflow

CST = ZoneInfo("Asia/Shanghai")
HOLIDAY_QUEUE = "test-cases-holiday"


def next_weekday(after: datetime, weekday: int) -> date:
    d = after.astimezone(CST).date() + timedelta(days=1)
    while d.weekday() != weekday:
        d += timedelta(days=1)
    return d


@pytest_asyncio.fixture(scope="module")
async def holiday_week(
    env: WorkflowEnvironment, db_url: str, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[tuple[date, Path]]:
    """A policy (its folder) whose calendar puts a two-day holiday and a 调休 Saturday in the server's coming
    week (its Wednesday)."""
    wed = next_weekday(await server_now(env.client), 2)
    folder: Path = tmp_path_factory.mktemp("policy")
    for f in POLICY_DIR.glob("*.toml"):
        shutil.copy(f, folder / f.name)
    cal = (folder / "calendar.toml").read_text()
    cal = cal.replace("holidays = []", f"holidays = [{wed + timedelta(days=1)}, {wed + timedelta(days=2)}]")
    cal = cal.replace("workdays = []", f"workdays = [{wed + timedelta(days=3)}]")
    (folder / "calendar.toml").write_text(cal)
    w = build_worker(env.client, task_queue=HOLIDAY_QUEUE, database_url=db_url, policy_dir=folder)
    task = asyncio.create_task(w.run())
    yield wed, folder
    await w.shutdown()
    await task


async def test_deadline_crosses_holiday_makeup_saturday_and_weekend(
    env: WorkflowEnvironment, holiday_week: tuple[date, Path], ticket: str
) -> None:
    wed, policy_dir = holiday_week
    start = datetime.combine(wed, time(10, 0), CST)
    await env.sleep(start - await server_now(env.client))
    h = await start_case(env.client, ticket, task_queue=HOLIDAY_QUEUE, policy_dir=policy_dir, category="street_vending")
    await ready(h)
    view = await h.query(CaseWorkflow.view)
    due = {d.kind: d.due_at.astimezone(CST) for d in view.deadlines if d.closed_at is None}
    # Thu and Fri are holidays, Sat is a make-up working day, Sun is off:
    # working days after Wed are Sat(1) Mon(2) Tue(3) Wed(4) Thu(5) Fri(6) Mon(7).
    assert due[DeadlineKind.tier].date() == wed + timedelta(days=3), "grid's 1 working day ends on the 调休 Saturday"
    assert due[DeadlineKind.reply].date() == wed + timedelta(days=12)
    assert abs(due[DeadlineKind.reply] - datetime.combine(wed + timedelta(days=12), time(10), CST)) < timedelta(
        minutes=1
    )
    assert view.policy_version and "+" in view.policy_version
    # Its worker goes with this module; a case left on that queue would hold the test server's clock.
    await h.terminate("test over")


async def test_deadline_in_a_year_the_calendar_package_does_not_cover(
    env: WorkflowEnvironment, client: Client, ticket: str
) -> None:
    now = await server_now(env.client)
    year = now.astimezone(CST).year
    target = datetime.combine(date(year, 12, 28), time(10), CST)
    if target <= now:
        target = datetime.combine(date(year + 1, 12, 28), time(10), CST)
    await env.sleep(target - now)
    h = await start_case(client, ticket, category="street_vending")
    await ready(h)
    view = await h.query(CaseWorkflow.view)
    reply = next(d for d in view.deadlines if d.kind is DeadlineKind.reply and d.closed_at is None)
    # No package data for next year: weekends only (plus the policy's overrides), and the case still runs.
    d, left = target.date(), 7
    while left:
        d += timedelta(days=1)
        left -= d.weekday() < 5
    assert reply.due_at.astimezone(CST).date() == d
    assert reply.due_at.year == target.year + 1
