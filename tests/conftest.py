"""One time-skipping Temporal test server and one real worker (real activities, real SQLite) per session; one
PostgreSQL server for the tests that run on both databases (`database_url`, and the API's `stack`)."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Iterator

import pytest
import pytest_asyncio
from sqlalchemy.engine import Engine
from temporalio.api.operatorservice.v1 import AddSearchAttributesRequest
from temporalio.client import Client
from temporalio.testing import WorkflowEnvironment

from models.search import ALL_KEYS
from store.db import engine_for, upgrade_database
from tests.helpers import TASK_QUEUE
from tests.postgres import PostgresServer, start_postgres
from tests.servers import time_skipping_env
from worker import build_worker


async def register_search_attributes(client: Client, namespace: str = "default") -> None:
    await client.operator_service.add_search_attributes(
        AddSearchAttributesRequest(
            namespace=namespace,
            search_attributes={k.name: k.indexed_value_type.value for k in ALL_KEYS},  # type: ignore[misc]
        )
    )


@pytest.fixture(scope="session")
def db_url(tmp_path_factory: pytest.TempPathFactory) -> str:
    return f"sqlite:///{tmp_path_factory.mktemp('db') / 'cases.db'}"


@pytest.fixture(scope="session")
def engine(db_url: str) -> Engine:
    return engine_for(db_url)


@pytest.fixture(scope="session")
def postgres() -> Iterator[PostgresServer]:
    server = start_postgres()
    yield server
    server.stop()


def migrated_database(server: PostgresServer) -> str:
    """A new database on the server, brought to the newest migration as an operator would."""
    url = server.create_database()
    upgrade_database(url)
    return url


DATABASES = ["sqlite", "postgresql"]


@pytest.fixture(params=DATABASES)
def database_url(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> str:
    """A fresh read model on each database: SQLite as `make run` has it, PostgreSQL migrated."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path_factory.mktemp('db') / 'cases.db'}"
    return migrated_database(request.getfixturevalue("postgres"))


@pytest_asyncio.fixture(scope="session")
async def env() -> AsyncIterator[WorkflowEnvironment]:
    env = await time_skipping_env()
    await register_search_attributes(env.client)
    async with env:
        yield env


@pytest_asyncio.fixture(scope="session")
async def worker(env: WorkflowEnvironment, db_url: str) -> AsyncIterator[None]:
    w = build_worker(env.client, task_queue=TASK_QUEUE, database_url=db_url)
    task = asyncio.create_task(w.run())
    yield
    await w.shutdown()
    await task


@pytest.fixture
def client(env: WorkflowEnvironment, worker: None) -> Client:
    return env.client


@pytest.fixture
def ticket() -> Iterator[str]:
    yield uuid.uuid4().hex[:12]
