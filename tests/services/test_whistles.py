"""A whistle's record as of now: the read model's, with the running whistle's own state over it."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy.engine import Engine
from sqlmodel import Session
from temporalio.client import Client
from temporalio.testing import WorkflowEnvironment

from models.inputs import ReportAction
from models.payloads import DepartmentRating
from models.policy import WhistleKind
from models.reads import SummonedDepartment, WhistleRecord
from models.whistle import DepartmentState, WhistleView
from policy import load_policy
from services.queries import whistle
from tests.helpers import unit, until, whistled_at_street
from workflows.whistle import WhistleWorkflow

AT = datetime(2026, 12, 2, 9, 0, tzinfo=UTC)


def summoned(unit_id: str, **given: object) -> SummonedDepartment:
    empty = dict.fromkeys(("checked_in_at", "report_in_time", "contacted_at", "released_at", "rated_at"))
    scores = dict.fromkeys(("speed", "cooperation", "result"))
    due = {"report_due": AT + timedelta(hours=1), "contact_due": None, "finish_due": None}
    return SummonedDepartment.model_validate({"unit_id": unit_id, "name": unit_id, **empty, **scores, **due, **given})


def record(*departments: SummonedDepartment) -> WhistleRecord:
    return WhistleRecord(
        case_id="case:hotline12345:t-1",
        n=1,
        kind="ordinary",
        whistler="street-a",
        summoned_at=AT,
        closed=False,
        departments=list(departments),
    )


def view(*departments: DepartmentState, done: bool = False) -> WhistleView:
    return WhistleView(
        case_id="case:hotline12345:t-1",
        n=1,
        kind=WhistleKind.ordinary,
        whistler="street-a",
        departments=list(departments),
        deadlines=[],
        done=done,
    )


def test_a_step_the_read_model_has_not_taken_yet_shows_from_the_whistle() -> None:
    before = record(summoned("dept-police"), summoned("dept-housing"))
    late = AT + timedelta(hours=2)
    now = before.with_live(
        view(
            DepartmentState(unit_id="dept-police", checked_in_at=AT + timedelta(minutes=10), contacted_at=late),
            DepartmentState(unit_id="dept-housing", checked_in_at=late, late_report=True),
        )
    )
    police, housing = now.departments
    assert (police.checked_in_at, police.report_in_time, police.contacted_at) == (
        AT + timedelta(minutes=10),
        True,
        late,
    )
    assert (housing.checked_in_at, housing.report_in_time) == (late, False)
    assert not now.closed
    assert before.departments[0].checked_in_at is None  # the read model's record is left as it was


def test_ratings_and_the_end_of_the_whistle_show_from_the_whistle() -> None:
    rating = DepartmentRating(department="dept-police", speed=5, cooperation=4, result=3)
    released = AT + timedelta(hours=3)
    base = summoned("dept-police", checked_in_at=AT, report_in_time=True)
    now = record(base).with_live(
        view(DepartmentState(unit_id="dept-police", checked_in_at=AT, released_at=released, rating=rating), done=True)
    )
    (police,) = now.departments
    assert (police.speed, police.cooperation, police.result, police.released_at) == (5, 4, 3, released)
    assert now.closed


def test_a_department_the_whistle_does_not_list_keeps_its_record() -> None:
    base = summoned("dept-police", checked_in_at=AT, report_in_time=True)
    assert record(base).with_live(view()).departments == [base]


async def test_a_department_past_its_report_limit_unreported_shows_as_not_in_time(
    env: WorkflowEnvironment, client: Client, ticket: str, engine: Engine
) -> None:
    """报到率 counts a summons whose 报到 limit passed unreported as missed; its record says so too, not "not yet"."""
    h, w = await whistled_at_street(env, client, ticket, WhistleKind.ordinary, ["dept-enforcement", "dept-housing"])
    await w.execute_update(WhistleWorkflow.report, ReportAction(actor=unit("dept-enforcement")))
    await env.sleep(timedelta(hours=2))  # past the 1-hour 报到 limit
    directory = load_policy().directory

    async def recorded() -> dict[str, bool | None]:
        with Session(engine) as s:
            r = whistle(s, case_id=h.id, n=1, directory=directory)
        shown = {d.unit_id: d.report_in_time for d in r.departments} if r else {}
        return shown if shown.get("dept-housing") is not None else {}

    assert await until(recorded, timeout=10) == {"dept-enforcement": True, "dept-housing": False}
    view = await w.query(WhistleWorkflow.view)
    with Session(engine) as s:
        r = whistle(s, case_id=h.id, n=1, directory=directory)
    assert r is not None
    housing = next(d for d in r.with_live(view).departments if d.unit_id == "dept-housing")
    assert housing.report_in_time is False and housing.checked_in_at is None
