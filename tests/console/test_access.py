"""Who sees what, and what happens to bad input: a wrong unit, a stale page, lock-out, CSRF, an expired session.

Cases here go to 吉祥社区第二网格 (grid-b1-2) and 韶九社区 (grid-a2-*), which the story does not use.
"""

from __future__ import annotations

import re
import time
import uuid
from typing import Any

import pytest
from playwright.async_api import expect

from console import accounts, web
from policy import load_policy
from store.db import engine_for
from tests.console.conftest import Console, open_form


def case_body(grid: str, **overrides: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "channel_ticket_id": f"A{uuid.uuid4().hex[:10]}",
        "category": "street_vending",
        "title": "占道经营",
        "description": "吉祥胡同口有摊贩占道经营",
        "location": {"grid_id": grid, "address": "吉祥胡同1号"},
        "reporter": {"name": "李四", "phone": "13912345678"},
    }
    return body | overrides


async def case_status(console: Console, case_id: str) -> dict[str, Any]:
    r = await console.api.get(f"/cases/{case_id}", headers={"Authorization": "Bearer demo-supervisor-12345"})
    assert r.status_code == 200, r.text
    case: dict[str, Any] = r.json()["case"]
    return case


async def test_a_wrong_unit_never_sees_the_case(console: Console) -> None:
    case_id = await console.submit_case(case_body("grid-b1-2"))
    page = await console.login("grid-a2-2")
    await expect(page.locator("#inbox-sign")).to_be_visible()
    await expect(page.locator(f"li[data-case='{case_id}']")).to_have_count(0)

    missing = await page.goto(f"{console.base}/console/cases/case-hotline12345-no-such-ticket")
    assert missing is not None and missing.status == 404
    missing_text = await page.locator("main").inner_text()
    shown = await page.goto(f"{console.base}/console/cases/{case_id}")
    assert shown is not None and shown.status == 404
    assert await page.locator("main").inner_text() == missing_text
    assert "李四" not in await page.content() and "占道经营" not in await page.content()

    # Acting on it by URL is the same: nothing to see, nothing done.
    csrf = await page.evaluate("JSON.parse(document.body.getAttribute('hx-headers'))['X-CSRF-Token']")
    posted = await page.request.post(f"{console.base}/console/cases/{case_id}/act/sign", form={"csrf_token": csrf})
    assert posted.status == 404 and "诉求不存在" in await posted.text()
    assert (await case_status(console, case_id))["status"] == "dispatched"
    board = await page.goto(f"{console.base}/console/board")
    assert board is not None and board.status == 403
    await console.close(page)


async def test_a_stale_page_is_refused_with_the_workflows_message(console: Console) -> None:
    case_id = await console.submit_case(case_body("grid-a2-1"))
    page = await console.login("grid-a2-1")
    # The page stops refreshing itself (a laptop lid closed, a dropped line): it still shows 签收.
    await page.route(re.compile(r"/part\?poll=1"), lambda route: route.abort())
    await page.goto(f"{console.base}/console/cases/{case_id}")
    await expect(page.locator("form[data-action='sign']")).to_be_visible()
    # Meanwhile a colleague signs it through the unit's own system.
    r = await console.api.post(f"/cases/{case_id}/sign", json={}, headers={"Authorization": "Bearer demo-grid-a2-1"})
    assert r.status_code == 200, r.text

    await page.locator("form[data-action='sign'] button[type=submit]").click()
    await expect(page.locator("#actions .error")).to_have_text("当前状态为“办理中”，不能签收")
    await expect(page.locator("#actions .notice")).to_contain_text("已过期")
    await expect(page.locator("#case-status")).to_have_text("办理中")
    timeline = await console.api.get(
        f"/cases/{case_id}/timeline", headers={"Authorization": "Bearer demo-supervisor-12345"}
    )
    assert [e["kind"] for e in timeline.json()["data"]].count("sign") == 1
    await console.close(page)


async def test_the_pages_refresh_keeps_an_open_form_as_it_is(console: Console) -> None:
    case_id = await console.submit_case(case_body("grid-a2-1"))
    page = await console.login("supervisor-12345")
    await page.goto(f"{console.base}/console/cases/{case_id}")
    merge = await open_form(page, "merge")
    await merge.locator("[name='into_case_id']").fill("case:hotline12345:nope")
    await merge.locator("[name='reason']").fill("与另一诉求重复")
    await merge.locator("button[type=submit]").click()
    await expect(merge.locator(".error")).to_contain_text("不存在或已销号")

    async def refreshed() -> None:
        async with page.expect_response(lambda r: "/part?poll=1" in r.url, timeout=15_000):
            pass
        await page.wait_for_timeout(500)  # the answer swapped in, if it is one

    # The page refreshes itself; the refusal and what was typed stay.
    await refreshed()
    await expect(merge.locator(".error")).to_contain_text("不存在或已销号")
    await expect(merge.locator("[name='into_case_id']")).to_have_value("case:hotline12345:nope")
    # While the supervisor writes a 催办 and a 不予受理, the grid signs: the page shows it, and every form stays as
    # it was, 不予受理 too, though a signed case no longer offers it (sent, it is refused as the case is now).
    urge = await open_form(page, "urge")
    await urge.locator("[name='note']").fill("请尽快处置")
    reject = await open_form(page, "reject")
    await reject.locator("[name='reason']").fill("不属受理范围")
    r = await console.api.post(f"/cases/{case_id}/sign", json={}, headers={"Authorization": "Bearer demo-grid-a2-1"})
    assert r.status_code == 200, r.text
    await expect(page.locator("#case-status")).to_have_text("办理中")
    await expect(page.locator("#timeline li[data-kind='sign']")).to_be_visible()
    await expect(urge.locator("[name='note']")).to_have_value("请尽快处置")
    await expect(reject.locator("[name='reason']")).to_have_value("不属受理范围")
    await expect(merge.locator(".error")).to_contain_text("不存在或已销号")
    await expect(merge.locator("[name='reason']")).to_have_value("与另一诉求重复")
    await console.close(page)


async def test_lock_out_after_repeated_failures(console: Console) -> None:
    name = f"li-{uuid.uuid4().hex[:6]}"
    engine = engine_for(console.settings.database_url)
    accounts.add(engine, load_policy(console.settings.policy_dir), username=name, name="李明", role="unit",
                 password="right-password", unit_id="grid-b1-2")  # fmt: skip
    context = await console.browser.new_context()
    page = await context.new_page()

    async def log_in(password: str, username: str = name) -> None:
        await page.goto(f"{console.base}/console/login")
        await page.fill("input[name=username]", username)
        await page.fill("input[name=password]", password)
        await page.click("button[type=submit]")

    async def attempt(password: str, username: str = name) -> str:
        await log_in(password, username)
        return await page.locator("p.error").inner_text()

    # Every refusal reads the same, for an account locked or not, and for one that does not exist: the page never
    # tells a stranger which names are accounts. It says the rule, so a locked-out person knows to wait.
    refusals = {await attempt("wrong-password") for _ in range(accounts.MAX_FAILURES)}
    refusals.add(await attempt("right-password"))  # locked means locked, even for the right one
    refusals |= {await attempt("wrong-password", "no-such-account") for _ in range(accounts.MAX_FAILURES + 1)}
    assert len(refusals) == 1 and "锁定" in refusals.pop()
    assert accounts.unlock(engine, name)
    await log_in("right-password")
    await expect(page).to_have_url(re.compile(r"/console/inbox$"))
    await context.close()


async def test_forms_need_the_sessions_token(console: Console) -> None:
    case_id = await console.submit_case(case_body("grid-b1-2"))
    page = await console.login("grid-b1-2")
    posted = await page.request.post(f"{console.base}/console/cases/{case_id}/act/sign", form={"csrf_token": "forged"})
    assert posted.status == 403 and "页面已过期" in await posted.text()
    assert (await case_status(console, case_id))["status"] == "dispatched"
    cookie = next(c for c in await page.context.cookies() if c["name"] == "console_session")
    assert cookie["httpOnly"] and cookie["sameSite"] == "Lax" and cookie["path"] == "/console"
    await console.close(page)


async def test_an_expired_session_returns_to_login_and_back(console: Console, monkeypatch: pytest.MonkeyPatch) -> None:
    case_id = await console.submit_case(case_body("grid-b1-2"))
    page = await console.login("grid-b1-2")
    await page.goto(f"{console.base}/console/cases/{case_id}")
    await expect(page.locator("form[data-action='sign']")).to_be_visible()
    later = time.time() + (console.settings.console_idle_minutes + 1) * 60
    monkeypatch.setattr(web, "clock", lambda: later)

    await page.locator("form[data-action='sign'] button[type=submit]").click()
    await expect(page).to_have_url(re.compile(r"/console/login\?next="))
    await expect(page.locator(".notice")).to_contain_text("登录已超时")
    assert (await case_status(console, case_id))["status"] == "dispatched"  # nothing was done
    await page.fill("input[name=username]", "grid-b1-2")
    await page.fill("input[name=password]", accounts.DEMO_PASSWORD)
    await page.click("button[type=submit]")
    await expect(page).to_have_url(f"{console.base}/console/cases/{case_id}")
    await page.locator("form[data-action='sign'] button[type=submit]").click()
    await expect(page.locator("#case-status")).to_have_text("办理中")
    await console.close(page)


async def test_logout_ends_every_copy_of_the_session(console: Console) -> None:
    page = await console.login("grid-b1-2")
    copied = await page.context.cookies()
    await page.click("header button:has-text('退出')")
    await expect(page).to_have_url(re.compile(r"/console/login$"))
    other = await console.browser.new_context()
    await other.add_cookies(copied)  # type: ignore[arg-type]
    thief = await other.new_page()
    await thief.goto(f"{console.base}/console/inbox")
    await expect(thief).to_have_url(re.compile(r"/console/login\?next="))
    await other.close()
    await console.close(page)


async def test_the_inbox_fits_a_phone(console: Console) -> None:
    await console.submit_case(case_body("grid-b1-2"))
    page = await console.login("grid-b1-2", width=390, height=844)
    await expect(page.locator("#inbox-sign li").first).to_be_visible()
    assert await page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
    await console.close(page)
