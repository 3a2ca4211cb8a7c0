"""Who may read a case (DOMAIN.md): the holder, the units it passed through, assisting and summoned units (without
the reporter's contact), its channel and supervisors; anyone else is answered as for a case that does not exist.
And what the summoned see: the case, and their own 报到 deadline in their queue."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from tests.api.conftest import Stack, key
from tests.api.test_case_flow import CHANNEL, new_case, post
from tests.helpers import until

MISSING = "/cases/case:hotline12345:no-such-ticket"


async def get(stack: Stack, who: str, path: str) -> Any:
    return await stack.api.get(path, headers=key(who))


async def whistled(stack: Stack) -> tuple[str, str]:
    """A case climbed to street-a by hand, which whistles two departments; returns the case and whistle paths."""
    case_id = (await post(stack, CHANNEL, "/cases", new_case())).json()["case_id"]
    c = f"/cases/{case_id}"
    for who in ("grid-a1-1", "comm-a1"):
        await post(stack, who, f"{c}/sign")
        await post(stack, who, f"{c}/escalate", {"reason": "需上级协调"})
    await post(stack, "street-a", f"{c}/sign")
    body = {"kind": "ordinary", "departments": ["dept-enforcement", "dept-housing"], "reason": "联合执法"}
    r = await post(stack, "street-a", f"{c}/whistle", body)
    assert r.status_code == 200, r.text
    return c, f"{c}/whistles/1"


async def test_a_summoned_department_reads_the_case_and_sees_its_report_deadline(stack: Stack) -> None:
    c, w = await whistled(stack)
    for path in (c, f"{c}/timeline", w):
        r = await get(stack, "dept-housing", path)
        assert r.status_code == 200, (path, r.text)
    assert (await get(stack, "dept-housing", c)).json()["case"]["reporter"]["masked_phone"] is None
    assert (await get(stack, "dept-housing", f"{c}/reporter")).status_code == 403

    queue = (await get(stack, "dept-housing", "/queue")).json()
    item = next(i for i in queue["data"] if i["case_id"] == c.removeprefix("/cases/"))
    assert item["todo"] == "报到" and item["whistle"] == 1
    due = datetime.fromisoformat(item["due_at"])
    assert timedelta(minutes=50) < due - datetime.now(UTC) <= timedelta(hours=1)  # 工作推进哨: 报到 within 1 h
    assert 0 < item["seconds_left"] <= 3600

    record = (await get(stack, "street-a", w)).json()
    assert record["kind"] == "ordinary" and record["whistler"] == "street-a" and not record["closed"]
    assert {d["unit_id"] for d in record["departments"]} == {"dept-enforcement", "dept-housing"}
    assert all(d["report_due"] and d["checked_in_at"] is None for d in record["departments"])

    for _ in range(100):
        r = await post(stack, "dept-enforcement", f"{w}/report")
        if not (r.status_code == 409 and r.json()["code"] == "NotReady"):
            break
    assert r.status_code == 200, r.text
    record = (await get(stack, "dept-housing", w)).json()
    enforcement = next(d for d in record["departments"] if d["unit_id"] == "dept-enforcement")
    assert enforcement["checked_in_at"] and enforcement["report_in_time"] is True

    # The queue, a list over the read model, takes the step in the case's next workflow task.
    async def next_todo() -> str | None:
        queue = (await get(stack, "dept-enforcement", "/queue")).json()
        todo: str = next(i for i in queue["data"] if i["case_id"] == c.removeprefix("/cases/"))["todo"]
        return todo if todo != "报到" else None

    assert await until(next_todo, timeout=15) == "与吹哨单位对接"

    # A department the whistle did not summon has nothing to do with the case.
    for path in (c, f"{c}/timeline", w):
        assert (await get(stack, "dept-police", path)).status_code == 404


async def test_an_assisting_unit_reads_the_case_without_the_reporter(stack: Stack) -> None:
    # 暴露垃圾: the grid leads (属地), 环卫 assists.
    case_id = (await post(stack, CHANNEL, "/cases", new_case(category="exposed_rubbish"))).json()["case_id"]
    c = f"/cases/{case_id}"
    r = await get(stack, "dept-sanitation", c)
    assert r.status_code == 200 and r.json()["case"]["reporter"]["masked_phone"] is None
    assert (await get(stack, "dept-sanitation", f"{c}/reporter")).status_code == 403
    assert (await get(stack, "grid-a1-1", c)).json()["case"]["reporter"]["masked_phone"] == "139****5678"


async def test_the_admin_reads_every_case_and_sees_no_reporter(stack: Stack) -> None:
    case_id = (await post(stack, CHANNEL, "/cases", new_case())).json()["case_id"]
    c = f"/cases/{case_id}"
    r = await get(stack, "admin", c)
    assert r.status_code == 200 and r.json()["case"]["reporter"]["masked_phone"] is None, r.text
    assert "5678" not in r.text
    assert (await get(stack, "admin", f"{c}/reporter")).status_code == 403
    # The supervisor still sees the masked phone.
    assert (await get(stack, "supervisor-12345", c)).json()["case"]["reporter"]["masked_phone"] == "139****5678"


async def test_refusals_do_not_tell_a_stranger_that_a_case_exists(stack: Stack) -> None:
    case_id = (await post(stack, CHANNEL, "/cases", new_case())).json()["case_id"]
    c = f"/cases/{case_id}"
    for who, path, body in (
        ("app", f"{c}/withdraw", {"reason": "不是我的工单"}),
        ("grid-b1-1", f"{c}/sign", {}),
        ("dept-police", f"{c}/whistles/1/report", {}),
    ):
        theirs = await post(stack, who, path, body)
        nothing = await post(stack, who, path.replace(c, MISSING), body)
        assert theirs.status_code == nothing.status_code == 404, (who, path, theirs.text)
        assert theirs.json() == nothing.json() and "grid" not in theirs.text
    for path in (c, f"{c}/timeline", f"{c}/reporter", f"{c}/whistles/1"):
        theirs, nothing = await get(stack, "app", path), await get(stack, "app", path.replace(c, MISSING))
        assert theirs.status_code == nothing.status_code == 404 and theirs.json() == nothing.json(), path


async def test_any_action_on_a_struck_off_case_is_refused_as_closed(stack: Stack) -> None:
    case_id = (await post(stack, CHANNEL, "/cases", new_case())).json()["case_id"]
    c = f"/cases/{case_id}"
    assert (await post(stack, CHANNEL, f"{c}/withdraw", {"reason": "已自行解决"})).json()["status"] == "closed"
    for who, action, body in (
        ("grid-a1-1", "sign", {}),
        ("supervisor-12345", "urge", {"note": "销号后催办"}),
        (CHANNEL, "withdraw", {"reason": "再次撤回"}),
        (CHANNEL, "rate", {"level": "satisfied", "solved": True}),
    ):
        # Refused by the workflow while it finishes, or by the server once it has ended: the same answer.
        r = await post(stack, who, f"{c}/{action}", body)
        assert r.status_code == 409 and r.json()["code"] == "CaseClosed" and "已销号" in r.json()["message"], r.text
