"""The API application: `uvicorn api.main:app`."""

from __future__ import annotations

import re
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager

import structlog
from fastapi import FastAPI, Request, Response
from fastapi.routing import APIRoute

import console
import logs
from activities.db import engine_for
from activities.vault import ReporterVault
from api import auth, errors, metrics
from api.deps import Parts
from api.routes import actions, cases, directory, notifications, open311, ops, stats
from config import Settings, settings
from console import accounts
from policy import load_policy

log = structlog.get_logger(__name__)
CASE_IN_PATH = re.compile(r"^/cases/([^/]+)")


def operation_id(route: APIRoute) -> str:
    return f"{route.tags[0]}-{route.name}" if route.tags else route.name


def create_app(config: Settings | None = None) -> FastAPI:
    config = config or settings

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        logs.configure(json=config.log_json)
        engine = engine_for(config.database_url)
        policy = load_policy(config.policy_dir)
        if config.demo_keys:
            log.info("demo_keys_seeded", added=auth.seed_demo_keys(engine, policy))
            log.info("demo_accounts_seeded", added=accounts.seed_demo(engine, policy))
        else:
            log.info("demo_keys_removed", removed=auth.remove_demo_keys(engine, policy))
            log.info("demo_accounts_removed", removed=accounts.remove_demo(engine))
        app.state.parts = Parts(
            settings=config, engine=engine, vault=ReporterVault(engine, config.vault_key), policy=policy
        )
        yield

    app = FastAPI(
        title="吹哨报到 case engine API",
        description="渠道受理诉求，单位签收、办理、吹哨、报到，督办查看时间线与考评排名。",
        version="0.1.0",
        lifespan=lifespan,
        generate_unique_id_function=operation_id,
    )
    errors.install(app)

    @app.middleware("http")
    async def request_context(request: Request, call_next: Callable[[Request], Awaitable[Response]]) -> Response:
        request_id = request.headers.get("x-request-id") or uuid.uuid4().hex
        case = CASE_IN_PATH.match(request.url.path)
        structlog.contextvars.bind_contextvars(request_id=request_id, case_id=case.group(1) if case else None)
        started = time.perf_counter()
        try:
            response = await call_next(request)
        finally:
            route = request.scope.get("route")
            metrics.LATENCY.labels(route=getattr(route, "path", "unmatched"), method=request.method).observe(
                time.perf_counter() - started
            )
            structlog.contextvars.clear_contextvars()
        response.headers["x-request-id"] = request_id
        return response

    for module in (directory, cases, actions, notifications, stats, open311, ops):
        app.include_router(module.router)
    app.include_router(cases.queue_router)
    console.install(app, config)
    return app


app = create_app()
