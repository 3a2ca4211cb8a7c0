"""A whistle its case takes down (撤回, 合并) ends for the read model too: off the departments' queues, closed in its
record, and, unreported before its report was due, no missed 报到 in the statistics."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

from tests.api.conftest import Stack, key

CHANNEL = "hotline12345"
SUPERVISOR = "supervisor-12345"
DEPARTMENT = "dept-housing"


async def post(stack: Stack, who: str, path: str, body: dict[str, Any] | None = None) -> Any:
    r = await stack.api.post(path, json=body or {}, headers=key(who))
    assert r.status_code in (200, 201), f"{who} {path}: {r.status_code} {r.text}"
    return r.json()


async def whistled_case(stack: Stack) -> str:
    """A case its community has whistled the department to; the department's queue says 报到."""
    body = {
        "channel_ticket_id": f"W{uuid.uuid4().hex[:10]}",
        "category": "street_vending",
        "title": "占道经营",
        "description": "多福巷7号院门口有摊贩占道",
        "location": {"grid_id": "grid-a1-2", "address": "多福巷7号院"},
    }
    case = f"/cases/{(await post(stack, CHANNEL, '/cases', body))['case_id']}"
    await post(stack, "grid-a1-2", f"{case}/sign")
    await post(stack, "grid-a1-2", f"{case}/escalate", {"reason": "需社区协调"})
    await post(stack, "comm-a1", f"{case}/sign")
    whistle = {"kind": "ordinary", "departments": [DEPARTMENT], "reason": "联合整治"}
    await post(stack, "comm-a1", f"{case}/whistle", whistle)
    assert await todo(stack, case) == ["报到"]
    return case


async def todo(stack: Stack, case: str) -> list[str]:
    r = await stack.api.get("/queue", headers=key(DEPARTMENT))
    assert r.status_code == 200, r.text
    return [i["todo"] for i in r.json()["data"] if f"/cases/{i['case_id']}" == case]


async def test_a_whistle_ends_with_its_withdrawn_or_merged_case(stack: Stack) -> None:
    date_from = datetime.now(UTC)
    withdrawn = await whistled_case(stack)
    assert (await post(stack, CHANNEL, f"{withdrawn}/withdraw", {"reason": "已自行解决"}))["status"] == "closed"
    merged = await whistled_case(stack)
    target = await whistled_case(stack)
    merge = {"into_case_id": target.removeprefix("/cases/"), "reason": "同一问题"}
    assert (await post(stack, SUPERVISOR, f"{merged}/merge", merge))["status"] == "closed"
    date_to = datetime.now(UTC)

    for case in (withdrawn, merged):
        assert await todo(stack, case) == [], case
        record = await stack.api.get(f"{case}/whistles/1", headers=key(SUPERVISOR))
        assert record.status_code == 200 and record.json()["closed"] is True, record.text
    # The target's whistle goes on.
    assert await todo(stack, target) == ["报到"]
    live = (await stack.api.get(f"{target}/whistles/1", headers=key(SUPERVISOR))).json()
    assert live["closed"] is False

    # Summoned three times; two summonses ended with their cases before the report was due, unreported, and the
    # third is not yet due: none is a missed 报到, and there is no 报到率 to give yet.
    period = {"date_from": date_from.isoformat(), "date_to": date_to.isoformat()}
    r = await stack.api.get(f"/stats/units/{DEPARTMENT}", params=period, headers=key(SUPERVISOR))
    assert r.status_code == 200, r.text
    row = r.json()
    assert (row["summoned"], row["summonses_decided"], row["reported"], row["report_rate"]) == (3, 0, 0, None), row


async def test_an_action_on_a_whistle_that_is_over_says_the_whistle_is_over_not_the_case(stack: Stack) -> None:
    case = await whistled_case(stack)
    w = f"{case}/whistles/1"
    await post(stack, DEPARTMENT, f"{w}/report")
    await post(stack, "comm-a1", f"{w}/release", {"department": DEPARTMENT, "note": "摊贩已清理"})
    ratings = [{"department": DEPARTMENT, "speed": 4, "cooperation": 4, "result": 4}]
    await post(stack, "comm-a1", f"{w}/rate-departments", {"ratings": ratings})
    for _ in range(100):  # the whistle's workflow ends a moment after its last update answers
        r = await stack.api.post(f"{w}/contact", json={"note": "再次对接"}, headers=key(DEPARTMENT))
        if r.status_code != 409 or r.json()["code"] != "DuplicateRequest":
            break
    assert r.status_code == 409, r.text
    assert "吹哨已结束" in r.json()["message"] and "销号" not in r.json()["message"], r.text
    missing = await stack.api.post(f"{case}/whistles/2/report", json={}, headers=key(DEPARTMENT))
    assert missing.status_code == 404 and missing.json()["message"] == "吹哨不存在", missing.text
    case_now = await stack.api.get(case, headers=key("comm-a1"))
    assert case_now.json()["case"]["status"] == "handling", case_now.text
