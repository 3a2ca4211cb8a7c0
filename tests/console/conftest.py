"""The console in a real browser: Debian's Chromium driven by Playwright, against a real dev server, worker and
API (as tests/api/conftest.py), on a policy of its own whose whistle report limit and emergency grid slice are
seconds long, so that a late 报到 and 对接 and a timer-fired escalation happen while a test watches."""

from __future__ import annotations

import asyncio
import os
import re
import shutil
import subprocess
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
import pytest_asyncio
import uvicorn
from playwright.async_api import Browser, BrowserContext, Locator, Page, async_playwright, expect

from api.main import create_app
from config import Settings
from console.accounts import DEMO_PASSWORD
from notifications.__main__ import build_dispatcher
from policy import POLICY_DIR
from scripts.temporal_dev import free_port, stop_process
from tests.servers import dev_server, with_retry
from worker import build_worker

QUEUE = "console-cases"
CHROMIUM = Path("/usr/bin/chromium")
# As the machine's notes say: without these Chromium keeps reaching out to a network that is closed here.
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--headless",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
REPORT_SECONDS = 30
"""报到 and 对接 limit of a 工作推进哨 in this policy."""
GRID_SLICE_SECONDS = 20
"""An emergency case's grid slice in this policy: after it the case escalates itself to the community."""


def short_policy(folder: Path) -> Path:
    for f in POLICY_DIR.glob("*.toml"):
        shutil.copy(f, folder / f.name)
    limits = folder / "limits.toml"
    text = limits.read_text()
    for key in ("report = ", "contact = "):
        text = _replace_in(text, "[whistle.ordinary]", key, f"{{ amount = {REPORT_SECONDS / 60}, unit = 'minutes' }}")
    text = _replace_in(
        text, "[limits.emergency.tier_slices]", "grid = ", f"{{ amount = {GRID_SLICE_SECONDS / 60}, unit = 'minutes' }}"
    )
    limits.write_text(text.replace('version = "', 'version = "console-test-'))
    return folder


def _replace_in(text: str, section: str, key: str, value: str) -> str:
    """The first `key` line after `section`, with a new value."""
    head, sep, rest = text.partition(section)
    assert sep, f"{section} not in limits.toml"
    before, found, after = rest.partition(f"\n{key}")
    assert found, f"{key} not in {section}"
    return head + sep + before + found + value + after[after.index("\n") :]


def ensure_chromium() -> None:
    """Debian's Chromium, installed when missing (the tests run as root, as CI does)."""
    if CHROMIUM.exists():
        return
    if os.geteuid() != 0:
        pytest.fail("the browser tests need Debian's chromium: run `apt-get install -y chromium` as root")
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    install = ["apt-get", "install", "-y", "--no-install-recommends", "chromium"]
    if subprocess.run(install, env=env, capture_output=True).returncode != 0:
        subprocess.run(["apt-get", "update"], env=env, capture_output=True, check=True)
        subprocess.run(install, env=env, capture_output=True, check=True)


async def open_form(page: Page, action: str) -> Locator:
    """The action's form, its box opened (a form that asks for something opens on a click)."""
    form = page.locator(f"form[data-action='{action}']")
    box = page.locator(f"details:has(> form[data-action='{action}'])")
    if await box.count() and not await box.evaluate("details => details.open"):
        await box.locator("summary").click()
    return form


async def act(page: Page, action: str, **fields: str) -> None:
    """Fill one action form of the case page and send it; waits until the page shows it was done."""
    form = await open_form(page, action)
    for name, value in fields.items():
        await form.locator(f"[name='{name}']").fill(value)
    async with page.expect_response(lambda r: r.request.method == "POST" and "/act/" in r.url) as sent:
        await form.locator("button[type=submit]").click()
    assert (await sent.value).ok, await (await sent.value).text()
    await expect(page.locator(".flash.ok")).to_be_visible()


CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


@dataclass
class Desk:
    """A person logged in to the console over plain HTTP, for what needs no browser to show."""

    http: httpx.AsyncClient
    csrf: str

    async def post(self, path: str, data: dict[str, Any], *, htmx: bool = False) -> httpx.Response:
        """A form as the page sends it: through htmx (the part it swaps in) or as a plain form (followed)."""
        headers = {"HX-Request": "true"} if htmx else {}
        return await self.http.post(path, data={"csrf_token": self.csrf, **data}, headers=headers)


@dataclass
class Console:
    base: str
    api: httpx.AsyncClient
    browser: Browser
    settings: Settings
    shots: Path

    async def login(self, username: str, *, width: int = 1280, height: int = 900) -> Page:
        """A fresh browser context (its own cookies) logged in as `username`, on its start page."""
        context = await self.browser.new_context(viewport={"width": width, "height": height}, locale="zh-CN")
        page = await context.new_page()
        await page.goto(f"{self.base}/console/login")
        await page.fill("input[name=username]", username)
        await page.fill("input[name=password]", DEMO_PASSWORD)
        await page.click("button[type=submit]")
        await expect(page.locator("header .me")).to_be_visible()
        return page

    @asynccontextmanager
    async def desk(self, username: str) -> AsyncIterator[Desk]:
        async with httpx.AsyncClient(base_url=self.base, follow_redirects=True, timeout=30) as http:
            form = await http.get("/console/login")
            login = {"username": username, "password": DEMO_PASSWORD, "next": "", "csrf_token": _csrf(form.text)}
            landed = await http.post("/console/login", data=login)
            assert landed.status_code == 200 and "退出" in landed.text, landed.text
            yield Desk(http=http, csrf=_csrf(landed.text))

    async def submit_case(self, body: dict[str, Any], channel: str = "hotline12345") -> str:
        """A case as a channel's own system submits it, through the API."""
        r = await self.api.post("/cases", json=body, headers={"Authorization": f"Bearer demo-{channel}"})
        assert r.status_code == 201, r.text
        case_id: str = r.json()["case_id"]
        return case_id

    async def close(self, page: Page) -> None:
        context: BrowserContext = page.context
        await context.close()


def _csrf(html: str) -> str:
    found = CSRF.search(html)
    assert found, html
    return found[1]


async def serve(app: Any) -> tuple[uvicorn.Server, asyncio.Task[None], int]:
    """The app on a free port; a port taken before uvicorn binds it fails this attempt (`with_retry`)."""
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    task = asyncio.create_task(server.serve())
    while not server.started:
        if task.done():
            raise RuntimeError(f"the console's API did not start on port {port}")
        await asyncio.sleep(0.05)
    return server, task, port


@pytest_asyncio.fixture(scope="session")
async def console(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Console]:
    ensure_chromium()
    folder: Path = tmp_path_factory.mktemp("console")
    policy_dir = short_policy(tmp_path_factory.mktemp("policy"))
    server, client, port = await dev_server()
    try:
        cfg = Settings(
            temporal_address=f"127.0.0.1:{port}",
            task_queue=QUEUE,
            database_url=f"sqlite:///{folder / 'cases.db'}",
            policy_dir=policy_dir,
            demo_keys=True,
            webhook_url="",
            notify_poll_seconds=0.2,
        )
        worker = build_worker(client, task_queue=QUEUE, database_url=cfg.database_url, policy_dir=policy_dir)
        # The demo's notification policy has no channels: the dispatcher marks every notice "no_channel".
        dispatcher = build_dispatcher(cfg)
        worker_task, dispatcher_task = asyncio.create_task(worker.run()), asyncio.create_task(dispatcher.run())
        api, api_task, api_port = await with_retry("console api", lambda: serve(create_app(cfg)))
        base = f"http://127.0.0.1:{api_port}"
        shots = Path(os.environ.get("CONSOLE_SCREENSHOTS") or folder / "shots")
        shots.mkdir(parents=True, exist_ok=True)
        async with async_playwright() as pw, httpx.AsyncClient(base_url=base, timeout=30) as http:
            browser = await pw.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
            expect.set_options(timeout=15_000)
            yield Console(base=base, api=http, browser=browser, settings=cfg, shots=shots)
            await browser.close()
        api.should_exit = True
        await api_task
        dispatcher.stop()
        await dispatcher_task
        await worker.shutdown()
        await worker_task
    finally:
        stop_process(server, "temporal")
