"""The API application: `uvicorn api.main:app`."""

from __future__ import annotations

import re
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager

import structlog
from fastapi import FastAPI, Request, Response
from fastapi.concurrency import run_in_threadpool
from fastapi.routing import APIRoute
from fastapi_offline import FastAPIOffline

import console
import logs
from api import auth, errors, metrics, open311, openapi
from api.deps import Parts
from api.edge import Edge
from api.routes import actions, cases, directory, notifications, ops, stats
from config import Settings, settings
from console import accounts
from policy import load_policy
from store.db import SchemaError, engine_for
from store.vault import ReporterVault

log = structlog.get_logger(__name__)
CASE_IN_PATH = re.compile(r"^/cases/([^/]+)")
# A caller's request id is kept only if it is a plain token: it goes into logs and the reveal audit.
REQUEST_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.:-]{0,63}$")


def operation_id(route: APIRoute) -> str:
    return f"{route.tags[0]}-{route.name}" if route.tags else route.name


def create_app(config: Settings | None = None) -> FastAPI:
    config = config or settings
    # At once, not in the lifespan: uvicorn logs its start (and the lifespan) after importing the app.
    logs.configure(json=config.log_json)

    def parts() -> Parts:
        try:
            engine = engine_for(config.database_url)
        except SchemaError as err:
            log.error("database_schema_behind", error=str(err))
            raise
        policy = load_policy(config.policy_dir)
        if config.demo_keys:
            log.info("demo_keys_seeded", added=auth.seed_demo_keys(engine, policy))
            log.info("demo_accounts_seeded", added=accounts.seed_demo(engine, policy))
        else:
            log.info("demo_keys_removed", removed=auth.remove_demo_keys(engine, policy))
            log.info("demo_accounts_removed", removed=accounts.remove_demo(engine))
        return Parts(settings=config, engine=engine, vault=ReporterVault(engine, config.vault_key), policy=policy)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        # In a thread: the database is a network server, and the event loop serves others meanwhile.
        app.state.parts = await run_in_threadpool(parts)
        yield

    app = FastAPIOffline(
        title="吹哨报到 case engine API",
        description="渠道受理诉求，单位签收、办理、吹哨、报到，督办查看时间线与考评排名。",
        version="0.1.0",
        lifespan=lifespan,
        generate_unique_id_function=operation_id,
    )
    errors.install(app)
    errors.register_format(open311.PREFIX, open311.render_error)
    openapi.document(app)

    @app.middleware("http")
    async def request_context(request: Request, call_next: Callable[[Request], Awaitable[Response]]) -> Response:
        given = request.headers.get("x-request-id", "")
        request_id = given if REQUEST_ID.match(given) else uuid.uuid4().hex
        # Routes (the reveal audit) read the header: they get the id the logs and the answer carry.
        kept = [(k, v) for k, v in request.scope["headers"] if k != b"x-request-id"]
        request.scope["headers"] = [*kept, (b"x-request-id", request_id.encode())]
        case = CASE_IN_PATH.match(request.url.path)
        structlog.contextvars.bind_contextvars(request_id=request_id, case_id=case.group(1) if case else None)
        started = time.perf_counter()
        status = 500
        try:
            response = await call_next(request)
            status = response.status_code
        finally:
            route = request.scope.get("route")
            metrics.LATENCY.labels(
                method=request.method, route=getattr(route, "path", "unmatched"), status=str(status)
            ).observe(time.perf_counter() - started)
            structlog.contextvars.clear_contextvars()
        response.headers["x-request-id"] = request_id
        return response

    # Outermost: nothing, not even the error handlers, reads a body or a path before it is checked.
    app.add_middleware(Edge, max_body_bytes=config.max_body_bytes)

    for module in (directory, cases, actions, notifications, stats, open311, ops):
        app.include_router(module.router)
    app.include_router(cases.queue_router)
    console.install(app, config)
    return app


app = create_app()
