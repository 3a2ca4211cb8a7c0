"""Statistics' period as a city names it: a plain date is its calendar day (in the policy's time zone), beside
zoned times."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

from tests.api.conftest import Stack, key
from tests.api.test_stats import GRID, SUPERVISOR


async def test_a_plain_date_is_the_city_s_calendar_day(stack: Stack) -> None:
    boss = key(SUPERVISOR)
    r = await stack.api.get("/stats/units", params={"date_from": "2026-11-01", "date_to": "2026-11-30"}, headers=boss)
    assert r.status_code == 200, r.text
    assert (r.json()["date_from"], r.json()["date_to"]) == ("2026-11-01T00:00:00+08:00", "2026-12-01T00:00:00+08:00")
    today = datetime.now(timezone(timedelta(hours=8))).date()
    by_day = await stack.api.get(
        f"/stats/units/{GRID}", params={"date_from": str(today), "date_to": str(today)}, headers=boss
    )
    zoned = {
        "date_from": f"{today}T00:00:00+08:00",
        "date_to": f"{today + timedelta(days=1)}T00:00:00+08:00",
    }
    assert by_day.json() == (await stack.api.get(f"/stats/units/{GRID}", params=zoned, headers=boss)).json()
    mixed = {"date_from": "2026-11-01", "date_to": "2026-11-15T12:00:00+08:00"}
    assert (await stack.api.get("/stats/units", params=mixed, headers=boss)).status_code == 200
    for bad in ("2026-13-01", "2026-11-01T00:00:00", "20261101", "9999-12-31", "0001-01-01"):
        r = await stack.api.get("/stats/units", params={"date_from": bad}, headers=boss)
        assert r.status_code == 422 and "date_from" in r.json()["message"], (bad, r.text)
