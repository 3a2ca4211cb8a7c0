"""受理 keeps every resident's problem its own: one case per (channel, ticket), whatever either holds, one
answer that says "created", and the reporter in the vault once per case and never without one."""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

from sqlmodel import Session, col, func, select

from models.intake import legacy_case_id_for
from models.tables import CaseRow, ReporterRow
from store.db import engine_for
from tests.api.conftest import Stack, key
from tests.api.test_case_flow import new_case


async def submit(stack: Stack, channel: str, body: dict[str, Any]) -> Any:
    return await stack.api.post("/cases", json=body, headers=key(channel))


def vault_rows(stack: Stack, case_id: str) -> int:
    with Session(engine_for(stack.settings.database_url)) as s:
        row = s.get(CaseRow, case_id)
        assert row is not None
        return int(s.exec(select(func.count()).where(col(ReporterRow.case_id) == case_id)).one())


async def test_tickets_that_once_collided_are_two_cases(stack: Stack) -> None:
    tag = uuid.uuid4().hex[:6]
    pairs = [
        (("hotline12345", f"c{tag}:1"), ("hotline12345", f"c{tag}_1")),  # ':' was folded into '_'
        (("app", f"x-{tag}"), ("open311", f"{tag}")),
    ]
    for (ch1, t1), (ch2, t2) in pairs:
        first = await submit(stack, ch1, new_case(channel_ticket_id=t1, title="第一件"))
        second = await submit(stack, ch2, new_case(channel_ticket_id=t2, title="第二件"))
        assert first.status_code == 201 and second.status_code == 201, (first.text, second.text)
        assert first.json()["created"] and second.json()["created"]
        assert first.json()["case_id"] != second.json()["case_id"]
        with Session(engine_for(stack.settings.database_url)) as s:
            rows = [s.get(CaseRow, r.json()["case_id"]) for r in (first, second)]
        assert [(r.channel, r.channel_ticket_id) for r in rows if r] == [(ch1, t1), (ch2, t2)]


async def test_a_channel_and_ticket_that_share_a_dash_are_not_another_channels_case(stack: Stack) -> None:
    # Under the old ids, channel "app" with ticket "x-1" and a channel "app-x" with ticket "1" were one id.
    tag = uuid.uuid4().hex[:6]
    assert legacy_case_id_for("app", f"x-{tag}") == legacy_case_id_for("app-x", tag)
    r = await submit(stack, "app", new_case(channel_ticket_id=f"x-{tag}"))
    assert r.status_code == 201
    assert r.json()["case_id"] != legacy_case_id_for("app-x", tag)


async def test_ten_concurrent_submissions_of_one_ticket_are_one_case_told_created_once(stack: Stack) -> None:
    body = new_case()
    answers = await asyncio.gather(*(submit(stack, "hotline12345", body) for _ in range(10)))
    assert {a.status_code for a in answers} <= {200, 201}, [a.text for a in answers]
    assert len({a.json()["case_id"] for a in answers}) == 1
    assert [a.json()["created"] for a in answers].count(True) == 1
    assert vault_rows(stack, answers[0].json()["case_id"]) == 1


async def test_a_repeat_stores_no_reporter_and_an_anonymous_case_none(stack: Stack) -> None:
    body = new_case()
    first = await submit(stack, "hotline12345", body)
    again = await submit(stack, "hotline12345", {**body, "reporter": {"name": "李四", "phone": "13800000000"}})
    assert first.status_code == 201 and again.status_code == 200
    assert vault_rows(stack, first.json()["case_id"]) == 1
    anonymous = await submit(stack, "hotline12345", new_case(reporter={}))
    assert anonymous.status_code == 201 and vault_rows(stack, anonymous.json()["case_id"]) == 0


async def test_a_case_started_under_the_old_ids_keeps_its_id(stack: Stack) -> None:
    from datetime import UTC, datetime

    from models.case import CaseInput
    from models.intake import Intake, Location
    from services.intake import case_handle, wait_ready
    from workflows.case import CaseWorkflow

    ticket = f"old{uuid.uuid4().hex[:8]}"
    old_id = legacy_case_id_for("hotline12345", ticket)
    intake = Intake(
        channel="hotline12345",
        channel_ticket_id=ticket,
        category="street_vending",
        title="旧工单",
        description="升级前受理的工单",
        location=Location(grid_id="grid-a1-1", address="多福巷"),
        reported_at=datetime.now(UTC),
    )
    await stack.temporal.start_workflow(
        CaseWorkflow.run, CaseInput(intake=intake, case_id=old_id), id=old_id, task_queue=stack.settings.task_queue
    )
    await wait_ready(case_handle(stack.temporal, old_id))
    again = await submit(stack, "hotline12345", new_case(channel_ticket_id=ticket))
    assert again.status_code == 200, again.text
    assert again.json()["case_id"] == old_id and again.json()["created"] is False
