"""The console in the browser while a case's worker is away: a click is answered where it was made, never with
silence, and the same form sent once the worker is back is the same request, done once."""

from __future__ import annotations

import uuid
from datetime import timedelta
from typing import Any

from playwright.async_api import expect

from policy import load_policy
from services.intake import open_case
from store.db import engine_for
from store.vault import ReporterVault
from temporal_client import connect
from tests.console.conftest import Console, open_form
from tests.helpers import intake
from worker import build_worker


async def test_a_sign_while_no_worker_answers_says_so_on_the_form_and_is_done_once_it_is_back(
    console: Console,
) -> None:
    cfg = console.settings
    client = await connect(cfg)
    queue = f"console-away-{uuid.uuid4().hex[:8]}"

    def worker() -> Any:
        return build_worker(client, task_queue=queue, database_url=cfg.database_url, policy_dir=cfg.policy_dir)

    vault = ReporterVault(engine_for(cfg.database_url), cfg.vault_key)
    page = await console.login("grid-a1-1")
    async with worker():
        opened = await open_case(
            client,
            queue,
            intake(uuid.uuid4().hex[:12]),
            vault,
            None,
            timedelta(seconds=15),
            policy=load_policy(cfg.policy_dir),
        )
        await page.goto(f"{console.base}/console/cases/{opened.handle.id}")
        form = await open_form(page, "sign")
        await expect(form).to_be_visible()
        board = await console.login("supervisor-12345")
        await board.goto(f"{console.base}/console/board")

    # The worker is gone; the grid worker signs: within the action wait and the case read's, the form says why.
    async with page.expect_response(
        lambda r: r.request.method == "POST" and "/act/sign" in r.url, timeout=40_000
    ) as sent:
        await form.locator("button[type=submit]").click()
    assert (await sent.value).status == 503
    await expect(form.locator("p.error[role=alert]")).to_contain_text("操作未能及时完成")
    # A supervisor opening the case beside the board is told why the panel cannot show it. (The request its 处置
    # button sends; the board lists only the most pressing cases, which this one may not be among.)
    panel = f"{console.base}/console/board/cases/{opened.handle.id}"
    await board.evaluate("url => htmx.ajax('GET', url, {source: '#board-panel', target: '#board-panel'})", panel)
    await expect(board.locator("#board-panel [role=alert]")).to_contain_text("请稍后重试", timeout=20_000)
    # What reads the read model alone answers as ever: the grid's inbox still lists the case to sign, the board
    # refreshes, and the statistics show.
    inbox = await console.login("grid-a1-1")
    await inbox.goto(f"{console.base}/console/inbox")
    await expect(inbox.locator(f"#inbox-sign li[data-case='{opened.handle.id}']")).to_be_visible()
    await console.close(inbox)
    for path in ("/console/board/part", "/console/stats"):
        shown = await board.request.get(f"{console.base}{path}")
        assert shown.ok and "请稍后重试" not in await shown.text(), path

    # Once the worker is back, the same form sent again (as a person would, with the page's own fields) is the
    # same request: done, and once, though the case may have taken the first one meanwhile.
    fields = await form.evaluate("f => Object.fromEntries(new FormData(f))")
    async with worker():
        again = await page.request.post(f"{console.base}/console/cases/{opened.handle.id}/act/sign", form=fields)
        assert again.ok and again.url.endswith("?done=sign"), await again.text()
        await expect(page.locator("#case-status")).to_have_text("办理中")  # the open page's own refresh
    timeline = await console.api.get(
        f"/cases/{opened.handle.id}/timeline", headers={"Authorization": "Bearer demo-supervisor-12345"}
    )
    assert [e["kind"] for e in timeline.json()["data"]].count("sign") == 1
    await opened.handle.terminate("test over")
    await console.close(page)
    await console.close(board)
