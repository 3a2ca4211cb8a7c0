"""Statistics per unit and period: a scripted set of cases through the API, every figure computed by hand.

The script runs in street-b's 黄化门社区 (grid-b2-1, comm-b2), which no other test uses, and the figures are read
for the window [just before the script, just after it], so cases of other tests cannot disturb them.
"""

from __future__ import annotations

import itertools
import uuid
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest
from sqlmodel import Session

from activities.db import engine_for
from models.policy import Directory, Tier, Unit
from models.tables import CaseRow, EventRow, WhistleDepartmentRow
from models.timeline import EventKind
from services import stats
from tests.api.conftest import Stack, key

CHANNEL = "hotline12345"
SUPERVISOR = "supervisor-12345"
GRID = "grid-b2-1"


def new_case() -> dict[str, Any]:
    return {
        "channel_ticket_id": f"S{uuid.uuid4().hex[:10]}",
        "category": "street_vending",
        "title": "占道经营",
        "description": "黄化门街口有摊贩占道经营",
        "location": {"grid_id": GRID, "address": "黄化门街12号"},
    }


async def post(stack: Stack, who: str, path: str, body: dict[str, Any] | None = None) -> Any:
    r = await stack.api.post(path, json=body or {}, headers=key(who))
    assert r.status_code in (200, 201), f"{who} {path}: {r.status_code} {r.text}"
    return r.json()


async def open_case(stack: Stack) -> str:
    created = await post(stack, CHANNEL, "/cases", new_case())
    assert created["holder"] == GRID
    return f"/cases/{created['case_id']}"


async def report(stack: Stack, dept: str, whistle: str) -> None:
    """报到, retried while the whistle is still starting (NotReady)."""
    for _ in range(200):
        r = await stack.api.post(f"{whistle}/report", json={}, headers=key(dept))
        if not (r.status_code == 409 and r.json()["code"] == "NotReady"):
            break
    assert r.status_code == 200, r.text


async def run_script(stack: Stack) -> None:
    # Case 1: signed, replied, 满意 and solved.
    c1 = await open_case(stack)
    await post(stack, GRID, f"{c1}/sign")
    await post(stack, GRID, f"{c1}/reply", {"result": "已劝离摊贩"})
    assert (await post(stack, CHANNEL, f"{c1}/rate", {"level": "satisfied", "solved": True}))["status"] == "closed"

    # Case 2: 非常不满意 and not solved → 重办 back to the grid, which signs and replies again: 基本满意, solved.
    c2 = await open_case(stack)
    await post(stack, GRID, f"{c2}/sign")
    await post(stack, GRID, f"{c2}/reply", {"result": "已劝离摊贩"})
    reopened = await post(stack, CHANNEL, f"{c2}/rate", {"level": "very_unsatisfied", "solved": False})
    assert reopened["status"] == "dispatched" and reopened["holder"] == GRID and reopened["reopen_count"] == 1
    await post(stack, GRID, f"{c2}/sign")
    await post(stack, GRID, f"{c2}/reply", {"result": "摊贩已搬离，设置了提示牌"})
    rated = await post(stack, CHANNEL, f"{c2}/rate", {"level": "basically_satisfied", "solved": True})
    assert rated["status"] == "closed"

    # Case 3: up to the street, which whistles two departments; both report in time and are rated.
    c3 = await open_case(stack)
    await post(stack, GRID, f"{c3}/sign")
    assert (await post(stack, GRID, f"{c3}/escalate", {"reason": "需社区协调"}))["holder"] == "comm-b2"
    await post(stack, "comm-b2", f"{c3}/sign")
    assert (await post(stack, "comm-b2", f"{c3}/escalate", {"reason": "需街道吹哨"}))["holder"] == "street-b"
    await post(stack, "street-b", f"{c3}/sign")
    whistle = {"kind": "ordinary", "departments": ["dept-police", "dept-hrss"], "reason": "联合整治"}
    await post(stack, "street-b", f"{c3}/whistle", whistle)
    w = f"{c3}/whistles/1"
    await report(stack, "dept-police", w)
    await report(stack, "dept-hrss", w)
    await post(stack, "street-b", f"{w}/release", {"department": "dept-police", "note": "秩序已恢复"})
    await post(stack, "street-b", f"{w}/release", {"department": "dept-hrss", "note": "欠薪已核查"})
    ratings = [
        {"department": "dept-police", "speed": 5, "cooperation": 4, "result": 3},
        {"department": "dept-hrss", "speed": 2, "cooperation": 3, "result": 4},
    ]
    await post(stack, "street-b", f"{w}/rate-departments", {"ratings": ratings})
    await post(stack, "street-b", f"{c3}/reply", {"result": "联合整治完成"})
    assert (await post(stack, CHANNEL, f"{c3}/rate", {"level": "satisfied", "solved": True}))["status"] == "closed"

    # Case 4: withdrawn before anyone signs.
    c4 = await open_case(stack)
    assert (await post(stack, CHANNEL, f"{c4}/withdraw", {"reason": "已自行解决"}))["status"] == "closed"


COUNTS = (
    "dispatched",
    "signed",
    "signed_in_time",
    "replied",
    "replied_on_time",
    "rated",
    "solved",
    "satisfied",
    "unrated",
    "reopened",
    "overdue_count",
    "escalated",
    "auto_escalated",
    "whistled",
    "summoned",
    "reported",
    "reported_in_time",
    "reply_events",
    "rating_events",
)
RATES = (
    "response_rate",
    "resolution_rate",
    "satisfaction_rate",
    "satisfaction_score",
    "on_time_rate",
    "reopen_rate",
    "whistle_rate",
    "report_rate",
)
ZERO = dict.fromkeys(COUNTS, 0) | dict.fromkeys(RATES) | {"ratings_by_level": {}, "misses_by_kind": {}}

EXPECTED: dict[str, dict[str, Any]] = {
    # 5 arrivals (cases 1, 3, 4 and case 2 twice), 4 signs in time. Replied to cases 1 and 2 (case 2 twice, both in
    # time); each counts once, by its final rating: 满意 (case 1) and 基本满意 (case 2; its 非常不满意 was superseded).
    GRID: ZERO
    | {
        "dispatched": 5,
        "signed": 4,
        "signed_in_time": 4,
        "replied": 2,
        "replied_on_time": 2,
        "rated": 2,
        "solved": 2,
        "satisfied": 2,
        "ratings_by_level": {"satisfied": 1, "basically_satisfied": 1},
        "reopened": 1,
        "escalated": 1,
        "reply_events": 3,
        "rating_events": 3,
        "response_rate": 4 / 5,
        "resolution_rate": 1.0,
        "satisfaction_rate": 1.0,
        "satisfaction_score": (80 + 60) / 2,
        "on_time_rate": 1.0,
        "reopen_rate": 1 / 2,
        "whistle_rate": None,  # grids cannot whistle
    },
    "comm-b2": ZERO
    | {
        "dispatched": 1,
        "signed": 1,
        "signed_in_time": 1,
        "escalated": 1,
        "response_rate": 1.0,
        "whistle_rate": 0.0,
    },
    "street-b": ZERO
    | {
        "dispatched": 1,
        "signed": 1,
        "signed_in_time": 1,
        "replied": 1,
        "replied_on_time": 1,
        "rated": 1,
        "solved": 1,
        "satisfied": 1,
        "ratings_by_level": {"satisfied": 1},
        "whistled": 1,
        "reply_events": 1,
        "rating_events": 1,
        "response_rate": 1.0,
        "resolution_rate": 1.0,
        "satisfaction_rate": 1.0,
        "satisfaction_score": 80.0,
        "on_time_rate": 1.0,
        "reopen_rate": 0.0,
        "whistle_rate": 1.0,
    },
    "dept-police": ZERO | {"summoned": 1, "reported": 1, "reported_in_time": 1, "report_rate": 1.0},
    "dept-hrss": ZERO | {"summoned": 1, "reported": 1, "reported_in_time": 1, "report_rate": 1.0},
}
WHISTLER_RATINGS = {
    "dept-police": {"count": 1, "speed": 5.0, "cooperation": 4.0, "result": 3.0},
    "dept-hrss": {"count": 1, "speed": 2.0, "cooperation": 3.0, "result": 4.0},
}


def check(row: dict[str, Any], unit: str) -> None:
    want = EXPECTED[unit]
    for name in (*COUNTS, "ratings_by_level", "misses_by_kind"):
        assert row[name] == want[name], f"{unit}.{name}: {row[name]} != {want[name]}"
    for name in RATES:
        if want[name] is None:
            assert row[name] is None, f"{unit}.{name}: {row[name]} is not null"
        else:
            assert row[name] == pytest.approx(want[name]), f"{unit}.{name}: {row[name]} != {want[name]}"
    assert row["whistler_rating"] == WHISTLER_RATINGS.get(unit)


async def test_unit_figures_for_a_scripted_period(stack: Stack) -> None:
    date_from = datetime.now(UTC)
    await run_script(stack)
    date_to = datetime.now(UTC)
    period = {"date_from": date_from.isoformat(), "date_to": date_to.isoformat()}
    boss = key(SUPERVISOR)

    r = await stack.api.get("/stats/units", params=period, headers=boss)
    assert r.status_code == 200, r.text
    body = r.json()
    rows = {row["unit_id"]: row for row in body["data"]}
    assert body["count"] == len(body["data"])
    assert {"grid-b2-2", "comm-b1", "dept-sanitation"} <= set(rows)  # units without data are listed too
    assert "district" not in rows and SUPERVISOR not in rows
    for unit in EXPECTED:
        check(rows[unit], unit)
    idle = rows["grid-b2-2"]
    assert idle["dispatched"] == 0 and all(idle[name] is None for name in RATES)

    streets = (await stack.api.get("/stats/units", params={**period, "tier": "street"}, headers=boss)).json()
    assert {row["unit_id"] for row in streets["data"]} == {"street-a", "street-b"}

    one = await stack.api.get("/stats/units/street-b", params=period, headers=boss)
    assert one.status_code == 200
    check(one.json(), "street-b")
    own = await stack.api.get(f"/stats/units/{GRID}", params=period, headers=key(GRID))
    assert own.status_code == 200
    check(own.json(), GRID)

    r = await stack.api.get("/stats/ranking", params={**period, "metric": "satisfaction_score"}, headers=boss)
    assert r.status_code == 200, r.text
    ranked = r.json()["data"]
    assert [(u["rank"], u["unit_id"]) for u in ranked] == [(1, "street-b"), (2, GRID)]
    assert ranked[0]["value"] == pytest.approx(80.0) and ranked[0]["basis"] == 1 and ranked[0]["rated"] == 1
    assert ranked[1]["value"] == pytest.approx(70.0) and ranked[1]["basis"] == 2 and ranked[1]["rated"] == 2

    # 响应率: grid-b2-1 0.8, comm-b2 and street-b 1.0 — a tie that the street wins on its rated case.
    r = await stack.api.get("/stats/ranking", params={**period, "metric": "response_rate"}, headers=boss)
    assert [u["unit_id"] for u in r.json()["data"]] == ["street-b", "comm-b2", GRID]
    r = await stack.api.get("/stats/ranking", params={**period, "metric": "report_rate"}, headers=boss)
    assert [u["unit_id"] for u in r.json()["data"]] == ["dept-hrss", "dept-police"]  # tie, then unit id
    r = await stack.api.get("/stats/ranking", params={**period, "metric": "on_time_rate", "tier": "grid"}, headers=boss)
    assert [(u["unit_id"], u["value"]) for u in r.json()["data"]] == [(GRID, 1.0)]

    # A period before the script holds none of its events.
    before = {"date_from": (date_from - timedelta(hours=1)).isoformat(), "date_to": date_from.isoformat()}
    empty = (await stack.api.get(f"/stats/units/{GRID}", params=before, headers=boss)).json()
    assert empty["dispatched"] == 0 and empty["response_rate"] is None


async def test_stats_access_and_validation(stack: Stack) -> None:
    boss = key(SUPERVISOR)
    for path in ("/stats/units", "/stats/ranking?metric=satisfaction_score"):
        for who in (GRID, CHANNEL, "admin"):
            r = await stack.api.get(path, headers=key(who))
            assert r.status_code == 403 and r.json()["code"] == "WrongActor", (path, who, r.text)
    assert (await stack.api.get("/stats/units")).status_code == 401
    assert (await stack.api.get("/stats/units/street-b", headers=key(GRID))).status_code == 403
    assert (await stack.api.get(f"/stats/units/{GRID}", headers=key(GRID))).status_code == 200
    r = await stack.api.get("/stats/units/nowhere", headers=boss)
    assert r.status_code == 404 and r.json()["code"] == "NotFound"

    for path, extra in (
        ("/stats/units", {}),
        (f"/stats/units/{GRID}", {}),
        ("/stats/ranking", {"metric": "on_time_rate"}),
    ):
        r = await stack.api.get(path, params={"date_from": "2025-10-01T00:00:00", **extra}, headers=boss)
        assert r.status_code == 422 and "date_from" in r.json()["message"], r.text
    r = await stack.api.get("/stats/units", params={"date_to": "2025-10-01T00:00:00"}, headers=boss)
    assert r.status_code == 422 and "date_to" in r.json()["message"]
    r = await stack.api.get(
        "/stats/units",
        params={"date_from": "2025-10-02T00:00:00+08:00", "date_to": "2025-10-01T00:00:00+08:00"},
        headers=boss,
    )
    assert r.status_code == 422 and "date_to" in r.json()["message"]
    r = await stack.api.get("/stats/units", params={"date_from": "soon"}, headers=boss)
    assert r.status_code == 422 and "date_from" in r.text
    r = await stack.api.get("/stats/ranking", params={"metric": "popularity"}, headers=boss)
    assert r.status_code == 422 and "metric" in r.text
    assert (await stack.api.get("/stats/ranking", headers=boss)).status_code == 422
    r = await stack.api.get("/stats/units", params={"tier": "galaxy"}, headers=boss)
    assert r.status_code == 422 and "tier" in r.text


# ---------------------------------------------------------------------------------------------------------
# the service on its own: a hand-made read model


SEQ = itertools.count(1)
T0 = datetime(2025, 11, 3, 2, 0, tzinfo=UTC)  # 10:00 in Beijing
DIRECTORY = Directory(
    district=Unit(id="district", name="区", tier=Tier.district),
    supervisor=Unit(id="sup", name="督查室", tier=Tier.district, parent="district"),
    units=(
        Unit(id="street-x", name="街道", tier=Tier.street, parent="district"),
        Unit(id="grid-x", name="网格", tier=Tier.grid, parent="street-x"),
        Unit(id="grid-y", name="网格二", tier=Tier.grid, parent="street-x"),
        Unit(id="dept-x", name="部门", tier=Tier.department, parent="district"),
    ),
)


@pytest.fixture
def session(database_url: str) -> Any:
    with Session(engine_for(database_url)) as s:
        yield s


def add(
    s: Session,
    case: str,
    minutes: int,
    kind: EventKind,
    unit: str | None,
    *,
    met: bool | None = None,
    deadline: str | None = None,
    **data: str,
) -> None:
    s.add(
        EventRow(
            case_id=case,
            seq=next(SEQ),
            at=T0 + timedelta(minutes=minutes),
            kind=kind.value,
            actor="t",
            unit_id=unit,
            text="",
            data=data,
            deadline_kind=deadline or (kind.value if met is not None else None),
            deadline_met=met,
        )
    )


def closed_case(
    s: Session, case: str, grid: str, minutes: int, replied_by: str, outcome: str, rating: str | None = None
) -> None:
    s.add(
        CaseRow(
            case_id=case,
            channel="app",
            channel_ticket_id=case,
            category="x",
            title=case,
            grid_id=grid,
            status="closed",
            reported_at=T0,
            replied_by=replied_by,
            rating=rating,
            solved=rating is not None,
            outcome=outcome,
            closed_at=T0 + timedelta(minutes=minutes),
        )
    )


def test_service_counts_cases_once_rates_ties_and_window(session: Session) -> None:
    s = session
    # Case a: late sign, late reply, 不满意 → 重办 → signed and replied in time, 满意: one case, its final rating.
    add(s, "a", 0, EventKind.dispatch, "grid-x")
    add(s, "a", 1, EventKind.sign, "grid-x", met=False)
    add(s, "a", 2, EventKind.overdue, "grid-x", deadline="sign")
    add(s, "a", 3, EventKind.reply, "grid-x", met=False)
    add(s, "a", 4, EventKind.overdue, "grid-x", deadline="reply")
    add(s, "a", 5, EventKind.rate, "grid-x", level="unsatisfied", solved="false")
    add(s, "a", 6, EventKind.reopen, "grid-x")
    add(s, "a", 7, EventKind.dispatch, "grid-x")
    add(s, "a", 8, EventKind.sign, "grid-x", met=True)
    add(s, "a", 9, EventKind.reply, "grid-x", met=True)
    add(s, "a", 10, EventKind.rate, "grid-x", level="satisfied", solved="true")
    closed_case(s, "a", "grid-x", 10, "grid-x", "rated", "satisfied")
    # Case b: the resident never rates: 未评价, outside the 满意率, nobody's miss.
    add(s, "b", 0, EventKind.dispatch, "grid-y")
    add(s, "b", 1, EventKind.sign, "grid-y", met=True)
    add(s, "b", 2, EventKind.reply, "grid-y", met=True)
    add(s, "b", 3, EventKind.rate, "grid-y", level="unrated")
    closed_case(s, "b", "grid-y", 3, "grid-y", "unrated")
    # Case c: the street whistles a department that reports late.
    add(s, "c", 0, EventKind.dispatch, "street-x")
    add(s, "c", 1, EventKind.sign, "street-x", met=True)
    add(s, "c", 2, EventKind.whistle, "street-x", n="1", departments="dept-x")
    add(s, "c", 3, EventKind.overdue, "dept-x", deadline="report")
    add(s, "c", 4, EventKind.report, "dept-x", met=False, whistle="1")
    add(s, "c", 5, EventKind.rate_departments, "street-x", whistle="1", **{"dept-x": "2/1/3"})  # type: ignore[arg-type]
    add(s, "c", 6, EventKind.reply, "street-x", met=True)
    add(s, "c", 7, EventKind.rate, "street-x", level="very_satisfied", solved="true")
    closed_case(s, "c", "street-x", 7, "street-x", "rated", "very_satisfied")
    s.add(
        WhistleDepartmentRow(
            case_id="c",
            n=1,
            unit_id="dept-x",
            kind="ordinary",
            whistler="street-x",
            summoned_at=T0 + timedelta(minutes=2),
            rated_at=T0 + timedelta(minutes=5),
            speed=2,
            cooperation=1,
            result=3,
        )
    )
    # Outside the window below: an arrival, and a case closed later.
    add(s, "d", 120, EventKind.dispatch, "grid-x")
    closed_case(s, "e", "grid-x", 200, "grid-x", "rated", "very_unsatisfied")
    s.commit()

    beijing = timezone(timedelta(hours=8))  # any zone: the service compares in UTC
    rows = {
        r.unit_id: r
        for r in stats.unit_stats(s, DIRECTORY, date_from=T0.astimezone(beijing), date_to=T0 + timedelta(minutes=60))
    }
    assert set(rows) == {"street-x", "grid-x", "grid-y", "dept-x"}
    gx, gy, st, dx = rows["grid-x"], rows["grid-y"], rows["street-x"], rows["dept-x"]
    assert (gx.dispatched, gx.signed, gx.signed_in_time, gx.response_rate) == (2, 2, 1, 0.5)
    assert (gx.replied, gx.replied_on_time, gx.on_time_rate) == (1, 0, 0.0), "one case, one of its replies late"
    assert (gx.reopened, gx.reopen_rate, gx.reply_events, gx.rating_events) == (1, 1.0, 2, 2)
    assert (gx.rated, gx.satisfaction_rate, gx.satisfaction_score, gx.resolution_rate) == (1, 1.0, 80.0, 1.0)
    assert (gx.overdue_count, gx.misses_by_kind, gx.whistle_rate) == (1, {"reply": 1, "sign": 1}, None)
    assert (gy.rated, gy.unrated, gy.satisfaction_score, gy.resolution_rate, gy.overdue_count) == (0, 1, None, None, 0)
    assert (st.whistled, st.signed, st.whistle_rate, st.satisfaction_score) == (1, 1, 1.0, 100.0)
    assert (dx.summoned, dx.reported, dx.reported_in_time, dx.report_rate, dx.overdue_count) == (1, 1, 0, 0.0, 1)
    assert dx.whistler_rating is not None and (dx.whistler_rating.speed, dx.whistler_rating.result) == (2.0, 3.0)
    assert dx.response_rate is None and dx.on_time_rate is None  # no data is null, never 0

    # 响应率: grid-y 1.0 and street-x 1.0 tie; street-x has the rated case. grid-x 0.5 still ranks.
    ranked = stats.ranking(rows.values(), stats.Metric.response_rate)
    assert [(u.rank, u.unit_id, u.value, u.basis) for u in ranked] == [
        (1, "street-x", 1.0, 1),
        (2, "grid-y", 1.0, 1),
        (3, "grid-x", 0.5, 2),
    ]
    assert [u.unit_id for u in stats.ranking(rows.values(), stats.Metric.satisfaction_score)] == ["street-x", "grid-x"]

    everything = stats.unit_stats(s, DIRECTORY, unit_id="grid-x")
    assert [(r.dispatched, r.rated, r.satisfaction_score) for r in everything] == [(3, 2, 40.0)]
    assert stats.unit_stats(s, DIRECTORY, tier=Tier.department)[0].unit_id == "dept-x"
    assert stats.unit_stats(s, DIRECTORY, unit_id="nowhere") == []
    with pytest.raises(stats.StatsError) as err:
        stats.unit_stats(s, DIRECTORY, date_from=datetime(2025, 11, 3))
    assert err.value.field == "date_from"
