"""End to end: a real Temporal dev server, a real worker, the real API over HTTP on localhost, on each database
(the embedded SQLite file, and a PostgreSQL server migrated as an operator would)."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
import pytest_asyncio
import uvicorn
from fastapi import FastAPI, HTTPException, Request
from pydantic import SecretStr
from temporalio.client import Client

from api.main import create_app
from config import Settings
from notifications.__main__ import build_dispatcher
from scripts.temporal_dev import free_port, stop_process
from tests.conftest import DATABASES, migrated_database
from tests.notifications.receivers import WEBHOOK_SECRET, verify_webhook
from tests.servers import dev_server
from worker import build_worker

API_QUEUE = "api-cases"


@dataclass
class Stack:
    api: httpx.AsyncClient
    temporal: Client
    settings: Settings
    hook: list[dict[str, str]]


def key(actor_id: str) -> dict[str, str]:
    return {"Authorization": f"Bearer demo-{actor_id}"}


@asynccontextmanager
async def serve(cfg: Settings) -> AsyncIterator[httpx.AsyncClient]:
    """The API with these settings on `cfg.api_port`, in this process, for as long as the block runs."""
    server = uvicorn.Server(uvicorn.Config(create_app(cfg), host="127.0.0.1", port=cfg.api_port, log_level="warning"))
    task = asyncio.create_task(server.serve())
    while not server.started:
        if task.done():
            await task  # it failed to start: say why
        await asyncio.sleep(0.05)
    try:
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{cfg.api_port}", timeout=30) as api:
            yield api
    finally:
        server.should_exit = True
        await task


@asynccontextmanager
async def api_with(stack: Stack, **settings: Any) -> AsyncIterator[httpx.AsyncClient]:
    """A second API on the suite's read model and keys, with some settings changed."""
    cfg: Settings = stack.settings.model_copy(update={"api_port": free_port(), **settings})
    async with serve(cfg) as api:
        yield api


@pytest_asyncio.fixture(scope="session", params=DATABASES)
async def stack(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Stack]:
    folder: Path = tmp_path_factory.mktemp("api")
    if request.param == "sqlite":
        database_url = f"sqlite:///{folder / 'cases.db'}"
    else:
        database_url = migrated_database(request.getfixturevalue("postgres"))
    server, client, port = await dev_server()
    try:
        hook: list[dict[str, str]] = []
        hook_app, hook_port = webhook_receiver(hook), free_port()
        cfg = Settings(
            temporal_address=f"127.0.0.1:{port}",
            task_queue=API_QUEUE,
            database_url=database_url,
            demo_keys=True,
            webhook_url=f"http://127.0.0.1:{hook_port}/hook",
            webhook_secret=SecretStr(WEBHOOK_SECRET),
            notify_poll_seconds=0.05,
            api_port=free_port(),
        )
        worker = build_worker(client, task_queue=API_QUEUE, database_url=cfg.database_url)
        dispatcher = build_dispatcher(cfg)
        api = uvicorn.Server(uvicorn.Config(create_app(cfg), host="127.0.0.1", port=cfg.api_port, log_level="warning"))
        receiver = uvicorn.Server(uvicorn.Config(hook_app, host="127.0.0.1", port=hook_port, log_level="warning"))
        tasks = [asyncio.create_task(s.serve()) for s in (api, receiver)]
        worker_task = asyncio.create_task(worker.run())
        dispatcher_task = asyncio.create_task(dispatcher.run())
        while not (api.started and receiver.started):
            await asyncio.sleep(0.05)
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{cfg.api_port}", timeout=30) as http:
            yield Stack(api=http, temporal=client, settings=cfg, hook=hook)
        api.should_exit = receiver.should_exit = True
        await asyncio.gather(*tasks)
        dispatcher.stop()
        await dispatcher_task
        await worker.shutdown()
        await worker_task
    finally:
        stop_process(server, "temporal")


def webhook_receiver(received: list[dict[str, str]]):  # type: ignore[no-untyped-def]
    """The generic webhook's receiver: keeps what it was sent, once its signature checks."""
    app = FastAPI()

    @app.post("/hook")
    async def hook(request: Request) -> dict[str, bool]:
        body, headers = await request.body(), request.headers
        if not verify_webhook(WEBHOOK_SECRET, headers["x-whistle-timestamp"], body, headers["x-whistle-signature"]):
            raise HTTPException(401, "bad signature")
        received.append(json.loads(body))
        return {"ok": True}

    return app
