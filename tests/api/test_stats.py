"""Statistics per unit and period: a scripted set of cases through the API, every figure computed by hand.

The script runs in street-b's 黄化门社区 (grid-b2-1, comm-b2), which no other test uses, and the figures are read
for the window [just before the script, just after it], so cases of other tests cannot disturb them.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

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
    "arrivals_decided",
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
    "summonses_decided",
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
    # 5 arrivals (cases 1, 3, 4 and case 2 twice), 4 signs in time; case 4 was withdrawn within its sign limit, so
    # 4 arrivals were met or missed. Replied to cases 1 and 2 (case 2 twice, both in time); each counts once, by its
    # final rating: 满意 (case 1) and 基本满意 (case 2; its 非常不满意 was superseded).
    GRID: ZERO
    | {
        "dispatched": 5,
        "arrivals_decided": 4,
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
        "response_rate": 1.0,
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
        "arrivals_decided": 1,
        "signed": 1,
        "signed_in_time": 1,
        "escalated": 1,
        "response_rate": 1.0,
        "whistle_rate": 0.0,
    },
    "street-b": ZERO
    | {
        "dispatched": 1,
        "arrivals_decided": 1,
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
    "dept-police": ZERO
    | {"summoned": 1, "summonses_decided": 1, "reported": 1, "reported_in_time": 1, "report_rate": 1.0},
    "dept-hrss": ZERO
    | {"summoned": 1, "summonses_decided": 1, "reported": 1, "reported_in_time": 1, "report_rate": 1.0},
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

    # 响应率: 1.0 for all three (case 4's withdrawal within its sign limit is no failure to respond): a tie won on
    # rated cases, the grid's two before the street's one.
    r = await stack.api.get("/stats/ranking", params={**period, "metric": "response_rate"}, headers=boss)
    assert [(u["unit_id"], u["basis"]) for u in r.json()["data"]] == [(GRID, 4), ("street-b", 1), ("comm-b2", 1)]
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
