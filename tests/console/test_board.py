"""The supervisors' board: a timer-fired escalation shows on the open board without a reload, and 催办, 改派 and
审核退单 are taken from the board. Cases here go to 吉祥社区第一网格 (grid-b1-1), which no other test uses."""

from __future__ import annotations

import re
import uuid
from typing import Any

from playwright.async_api import expect

from tests.console.conftest import GRID_SLICE_SECONDS, Console, act, open_form


def emergency(title: str) -> dict[str, Any]:
    return {
        "channel_ticket_id": f"B{uuid.uuid4().hex[:10]}",
        "category": "exposed_rubbish",
        "urgency": "emergency",
        "title": title,
        "description": "吉祥胡同垃圾桶起火后残留大量垃圾",
        "location": {"grid_id": "grid-b1-1", "address": "吉祥胡同8号"},
    }


async def test_a_timer_fired_escalation_appears_on_the_open_board(console: Console) -> None:
    page = await console.login("supervisor-12345")
    case_id = await console.submit_case(emergency("垃圾堆积"))
    row = page.locator(f"#due-soon tr[data-case='{case_id}']")
    await expect(row.locator("td.tier")).to_have_text("网格")
    await page.evaluate("window.boardNeverReloaded = true")

    # No one acts: the grid's slice runs out, the workflow escalates the case itself, the board shows it.
    miss = page.locator(f"#misses li[data-case='{case_id}'][data-kind='auto_escalate']")
    await expect(miss).to_contain_text("自动上报至吉祥社区", timeout=(GRID_SLICE_SECONDS + 30) * 1000)
    await expect(row.locator("td.tier")).to_have_text("社区")
    await expect(row.locator("td.holder")).to_have_text("吉祥社区")
    assert await page.evaluate("window.boardNeverReloaded === true")
    await page.screenshot(path=console.shots / "console-board.png", full_page=True)
    await console.close(page)


async def test_urge_and_redispatch_from_the_board(console: Console) -> None:
    page = await console.login("supervisor-12345")
    case_id = await console.submit_case(emergency("垃圾未清运"))
    row = page.locator(f"#due-soon tr[data-case='{case_id}']")
    await row.locator("button:has-text('处置')").click()
    panel = page.locator("#board-panel")
    await expect(panel.locator("form[data-action='urge']")).to_be_attached()
    await expect(panel.locator("form[data-action='sign']")).to_have_count(0)  # not the supervisor's to take

    await act(page, "urge", note="请立即清运")
    await expect(panel.locator(".flash.ok")).to_contain_text("催办")
    form = await open_form(page, "redispatch")
    # a grid of another street: the case does not carry it, the console gives the move its chain
    await form.locator("select[name='to_unit']").select_option("grid-b2-1")
    await act(page, "redispatch", reason="位于黄化门社区")
    await expect(panel.locator(".flash.ok")).to_contain_text("改派")
    await expect(row.locator("td.holder")).to_have_text("黄化门社区第一网格")

    timeline = await console.api.get(
        f"/cases/{case_id}/timeline", headers={"Authorization": "Bearer demo-supervisor-12345"}
    )
    kinds = [e["kind"] for e in timeline.json()["data"]]
    assert "urge" in kinds and "redispatch" in kinds
    await console.close(page)


def flash(html: str) -> str:
    """What the page confirms was done."""
    found = re.search(r'<p class="flash ok" role="status">(.*?)</p>', html)
    assert found, html
    return found[1]


async def test_a_return_decision_says_which_way_it_went(console: Console) -> None:
    case_id = await console.submit_case(emergency("垃圾桶破损") | {"urgency": "general"})
    grid = {"Authorization": "Bearer demo-grid-b1-1"}

    async def returned() -> None:
        r = await console.api.post(f"/cases/{case_id}/return", json={"reason": "垃圾桶归物业管理"}, headers=grid)
        assert r.status_code == 200, r.text

    assert (await console.api.post(f"/cases/{case_id}/sign", json={}, headers=grid)).status_code == 200
    await returned()
    async with console.desk("supervisor-12345") as desk:
        url = f"/console/cases/{case_id}/act/decide-return"
        refused = await desk.post(url, {"approve": "false", "reason": "属网格巡查范围", "panel": "board"}, htmx=True)
        assert flash(refused.text) == "已完成：审核退单：驳回，仍由吉祥社区第一网格办理"
        await returned()
        approved = await desk.post(url, {"approve": "true", "to_unit": "grid-b2-1", "reason": "位于黄化门社区"})
        assert approved.url.path.endswith(case_id)  # the case page, after the plain form
        assert flash(approved.text) == "已完成：审核退单：同意，改派至黄化门社区第一网格"
