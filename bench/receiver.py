"""A receiver on this machine for the delivery benchmarks: the generic webhook, answering at once and keeping
each message's key and arrival time."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import uvicorn
from fastapi import FastAPI, Request, Response

from scripts.temporal_dev import free_port


@asynccontextmanager
async def webhook_receiver() -> AsyncIterator[tuple[str, list[tuple[str, float]]]]:
    """Serve `POST /hook` on a free port; yields its URL and the (key, arrival time) of every message."""
    arrived: list[tuple[str, float]] = []
    app = FastAPI()

    @app.post("/hook")
    async def hook(request: Request) -> Response:
        arrived.append((request.headers.get("idempotency-key", ""), time.time()))
        return Response(b'{"ok":true}', media_type="application/json")

    port = free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", access_log=False))
    task = asyncio.create_task(server.serve())
    while not server.started:
        if task.done():
            task.result()
        await asyncio.sleep(0.05)
    try:
        yield f"http://127.0.0.1:{port}/hook", arrived
    finally:
        server.should_exit = True
        await task
