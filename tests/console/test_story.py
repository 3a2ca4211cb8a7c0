"""One case through the console, as the people who work it would, and the figures it leaves.

The 12345 operator takes it in; the grid signs and escalates; the community whistles two departments; one
reports and contacts the community in time, the other after their limits and is flagged; the community releases
and rates them and replies; the resident rates through the channel's API; the supervisor's statistics show what
a person would count by hand for this story. It runs in 多福巷社区 (grid-a1-1, comm-a1), which no other console
test uses.
"""

from __future__ import annotations

import csv
import io
import re
from datetime import datetime

from openpyxl import load_workbook
from playwright.async_api import Page, expect

from console import web
from tests.console.conftest import REPORT_SECONDS, Console, act, open_form

GRID, COMMUNITY = "grid-a1-1", "comm-a1"
ON_TIME, LATE = "dept-enforcement", "dept-housing"


async def open_from_inbox(page: Page, section: str, case_id: str) -> None:
    item = page.locator(f"#inbox-{section} li[data-case='{case_id}']")
    await expect(item).to_be_visible()
    await item.locator("a.case-link").click()
    await expect(page.locator(f"article.case[data-case='{case_id}']")).to_be_visible()


async def take_in(console: Console) -> str:
    """The operator's 受理, with the deadlines shown before it is sent."""
    page = await console.login("hotline12345")
    await expect(page).to_have_url(re.compile(r"/console/intake$"))
    await page.select_option("#category", "illegal_construction")
    await page.select_option("#grid", GRID)
    preview = page.locator("#preview-deadlines")
    await expect(preview.locator("tr[data-kind='reply']")).to_contain_text("7个工作日")
    await expect(preview.locator("tr[data-kind='sign']")).to_contain_text("4个工作小时")
    await expect(page.locator("#preview-lead")).to_have_text("多福巷社区第一网格")
    await page.fill("[name='location.address']", "多福巷5号院")
    await page.fill("[name='title']", "院内私搭乱建")
    await page.fill("[name='description']", "多福巷5号院内有人搭建彩钢板房，占用消防通道")
    await page.fill("[name='reporter.name']", "王秀兰")
    await page.fill("[name='reporter.phone']", "13800138000")
    await page.click("#intake-form button[type=submit]")
    case = page.locator("article.case")
    await expect(case.locator("#case-holder")).to_have_text("多福巷社区第一网格")
    case_id = await case.get_attribute("data-case")
    assert case_id
    await expect(case.locator("#facts")).to_contain_text("138****8000")
    await expect(case.locator("#facts")).not_to_contain_text("13800138000")
    await console.close(page)
    return case_id


async def grid_signs_and_escalates(console: Console, case_id: str) -> None:
    page = await console.login(GRID)
    await expect(page).to_have_url(re.compile(r"/console/inbox$"))
    await expect(page.locator(f"#inbox-sign li[data-case='{case_id}'] time.countdown")).to_contain_text("剩余")
    await page.screenshot(path=console.shots / "console-inbox.png", full_page=True)
    await open_from_inbox(page, "sign", case_id)
    await act(page, "sign")
    await expect(page.locator("#case-status")).to_have_text("办理中")
    # The grid calls the resident: it looks up the contact, which the reveal audit records.
    await page.locator("#reporter button:has-text('查看联系方式')").click()
    await expect(page.locator("#reporter .revealed")).to_have_text("王秀兰 · 13800138000")
    await act(page, "escalate", reason="违建须执法，网格无力处置")
    await expect(page.locator("#case-holder")).to_have_text("多福巷社区")
    # The grid passed it on: it may still read the case, without the reporter's contact (on the very page the
    # action answers with, not only once the page has refreshed itself), and is offered nothing more.
    assert (await page.locator("#reporter").inner_text()).strip() == "仅承办单位可见"
    await expect(page.locator("#actions")).to_contain_text("没有可办理的事项")
    await console.close(page)


async def community_whistles(console: Console, case_id: str) -> Page:
    page = await console.login(COMMUNITY)
    await open_from_inbox(page, "sign", case_id)
    await act(page, "sign")
    form = await open_form(page, "whistle")
    await form.locator("select[name='kind']").select_option("ordinary")
    # Nothing chosen: refused on the form, in Chinese, and nothing happens to the case.
    await form.locator("[name='reason']").fill("违建需联合执法")
    await form.locator("button[type=submit]").click()
    await expect(page.locator("form[data-action='whistle'] .error")).to_contain_text("召集部门：至少选择1项")
    await expect(page.locator("#whistle-1")).to_have_count(0)
    form = page.locator("form[data-action='whistle']")  # still open, with what was typed
    await form.locator(f"input[value='{ON_TIME}']").check()
    await form.locator(f"input[value='{LATE}']").check()
    await form.locator("[name='reason']").fill("违建需联合执法")
    await form.locator("button[type=submit]").click()
    await expect(page.locator("#whistle-1")).to_contain_text("工作推进哨")
    return page


async def department_reports(console: Console, dept: str, case_id: str, *, late: bool) -> None:
    page = await console.login(dept)
    await open_from_inbox(page, "report", case_id)
    # A summoned department reads the case it works on, without the reporter's contact.
    await expect(page.locator("#reporter")).to_have_text("仅承办单位可见")
    row = page.locator(f"#whistle-1 tr[data-department='{dept}']")
    if late:
        # The page refreshes itself: the limit passes while it is open, and the whistle flags it.
        await expect(row).to_contain_text("超时未报到", timeout=(REPORT_SECONDS + 30) * 1000)
    await act(page, "whistle-1-report")
    await expect(row).to_contain_text("迟到" if late else "按时")
    # It contacts the community (对接), within the same limit or, having reported late, after it.
    await act(page, "whistle-1-contact", note="已到现场与社区对接")
    await expect(row.locator("td").nth(2).locator(".badge")).to_have_text("迟到" if late else "按时")
    await console.close(page)


async def community_closes_the_whistle_and_replies(console: Console, page: Page) -> None:
    await page.reload()
    for dept in (ON_TIME, LATE):
        form = await open_form(page, "whistle-1-release")
        await form.locator("select[name='department']").select_option(dept)
        await act(page, "whistle-1-release", note="违建已拆除，部门任务完成")
        await expect(page.locator(f"#whistle-1 tr[data-department='{dept}'] td").nth(3)).not_to_contain_text("完成时限")
    form = await open_form(page, "whistle-1-rate-departments")
    for dept, scores in ((ON_TIME, ("5", "4", "5")), (LATE, ("3", "3", "4"))):
        selects = form.locator(f"fieldset[data-department='{dept}'] select")
        for i, score in enumerate(scores):
            await selects.nth(i).select_option(score)
    await form.locator("button[type=submit]").click()
    await expect(page.locator("#whistle-1")).to_contain_text("已完结")
    await expect(page.locator(f"#whistle-1 tr[data-department='{ON_TIME}']")).to_contain_text("5/4/5")
    await page.screenshot(path=console.shots / "console-case.png", full_page=True)
    await act(page, "reply", result="违建已联合拆除，消防通道恢复畅通")
    await expect(page.locator("#case-status")).to_have_text("待评价")


async def resident_rates(console: Console, case_id: str) -> None:
    r = await console.api.post(
        f"/cases/{case_id}/rate",
        json={"level": "satisfied", "solved": True},
        headers={"Authorization": "Bearer demo-hotline12345"},
    )
    assert r.status_code == 200 and r.json()["status"] == "closed", r.text


# Counted by hand from the story: one arrival and one sign in time at the grid and at the community; the
# community whistled once for its one sign, replied in time, and its one rated case is 满意 (80) and solved; of
# the two summoned departments one reported and contacted in time and one late (one case 超期: its 报到 and 对接
# limits).
EXPECTED = {
    GRID: {"dispatched": "1", "signed_in_time": "1", "response_rate": "100.0%", "replied": "0",
           "on_time_rate": "—", "rated": "0", "satisfaction_rate": "—", "overdue_count": "0", "whistle_rate": "—"},
    COMMUNITY: {"dispatched": "1", "signed_in_time": "1", "response_rate": "100.0%", "replied": "1",
                "on_time_rate": "100.0%", "rated": "1", "resolution_rate": "100.0%", "satisfaction_rate": "100.0%",
                "satisfaction_score": "80.0", "overdue_count": "0", "reopen_rate": "0.0%", "whistle_rate": "100.0%",
                "summoned": "0", "report_rate": "—"},
    ON_TIME: {"dispatched": "0", "response_rate": "—", "summoned": "1", "report_rate": "100.0%", "overdue_count": "0",
              "whistler_rating": "5.0/4.0/5.0"},
    LATE: {"summoned": "1", "report_rate": "0.0%", "overdue_count": "1", "whistler_rating": "3.0/3.0/4.0"},
}  # fmt: skip


async def supervisor_reads_the_figures(console: Console, case_id: str, first: str) -> None:
    last = datetime.now(web.ZONE).date().isoformat()
    page = await console.login("supervisor-12345")
    await page.goto(f"{console.base}/console/stats?date_from={first}&date_to={last}")
    table = page.locator("#stats-table")
    for unit, cells in EXPECTED.items():
        row = table.locator(f"tr[data-unit='{unit}']")
        for column, text in cells.items():
            await expect(row.locator(f"td[data-col='{column}']")).to_have_text(text)
    await expect(page.locator(f"#ranking li[data-unit='{COMMUNITY}']")).to_contain_text("80.0")
    await expect(page.locator("[data-chart='stats-rates'] svg")).to_be_visible()
    await page.screenshot(path=console.shots / "console-stats.png", full_page=True)

    exported = await page.request.get(console.base + (await page.locator("#export-csv").get_attribute("href") or ""))
    assert exported.ok
    rows = list(csv.reader(io.StringIO((await exported.text()).lstrip("\ufeff"))))
    header = rows[1]
    community = next(r for r in rows[2:] if r[0] == COMMUNITY)
    assert community[header.index("满意度得分")] == "80.0" and community[header.index("响应率")] == "1.0"
    xlsx = await page.request.get(console.base + (await page.locator("#export-xlsx").get_attribute("href") or ""))
    sheet = load_workbook(io.BytesIO(await xlsx.body())).active
    assert sheet is not None
    values = {r[0]: r for r in sheet.iter_rows(min_row=3, values_only=True)}
    assert values[LATE][header.index("报到率")] == 0.0 and values[LATE][header.index("超期")] == 1

    # The supervisor reads the case's whole record: its notifications, and the Temporal history link.
    await page.goto(f"{console.base}/console/cases/{case_id}")
    notices = page.locator("#notifications")
    await expect(notices).to_contain_text("吹哨")
    # No channel is configured in the demo: each notice says so, and may be sent again once one is.
    stuck = notices.locator("tr[data-state='no_channel']")
    await expect(stuck.first).to_contain_text("无可用渠道")
    before = await stuck.count()
    await stuck.first.locator("button:has-text('重发')").click()
    await expect(notices.locator(".error")).to_have_count(0)
    await expect(notices.locator("tr[data-state='queued'], tr[data-state='no_channel']")).to_have_count(before)
    await expect(page.locator("#timeline li[data-kind='close']")).to_be_visible()
    link = page.locator("#facts a[href*='/workflows/']")
    assert (await link.get_attribute("href") or "").endswith(f"/workflows/{case_id}")
    # Everything it says is in Chinese: how the case ended, whose the rating window was, who saw the contact.
    await expect(page.locator("#outcome")).to_contain_text("已评价")
    await expect(page.locator("#deadlines tr[data-kind='rating'] td").nth(1)).to_have_text("诉求人")
    viewer = page.locator("#reveals tbody tr")
    await expect(viewer).to_have_count(1)
    await expect(viewer.locator("td.viewer")).to_contain_text("多福巷社区第一网格")
    await expect(viewer.locator("td.unit")).to_have_text("多福巷社区第一网格")
    assert f"{GRID}/" not in await viewer.inner_text()
    await console.close(page)


async def test_a_case_through_the_console(console: Console) -> None:
    day = datetime.now(web.ZONE).date().isoformat()
    case_id = await take_in(console)
    await grid_signs_and_escalates(console, case_id)
    community = await community_whistles(console, case_id)
    await department_reports(console, ON_TIME, case_id, late=False)
    await department_reports(console, LATE, case_id, late=True)
    await community_closes_the_whistle_and_replies(console, community)
    await console.close(community)
    await resident_rates(console, case_id)
    await supervisor_reads_the_figures(console, case_id, day)
