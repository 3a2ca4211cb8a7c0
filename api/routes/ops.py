"""Health and Prometheus metrics."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from typing import Literal
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Response
from fastapi.concurrency import run_in_threadpool
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector
from pydantic import BaseModel, Field
from sqlalchemy import text
from sqlalchemy.engine import Engine
from sqlmodel import Session, col, func, select
from temporalio.api.workflowservice.v1 import GetSystemInfoRequest

from api import metrics
from api.deps import PartsDep
from api.errors import ErrorBody
from models.case import Status
from models.policy import Policy
from models.tables import CaseRow, EventRow
from models.timeline import EventKind
from notifications.outbox import STATES, Outbox
from policy.calendar import HORIZON, covered_through

router = APIRouter(tags=["ops"])
HEALTH_TIMEOUT = timedelta(seconds=3)


class CalendarHealth(BaseModel):
    covered_through: date | None = Field(description="the last day whose working days are known; None: natural days")
    days_ahead: int | None = Field(description="days from today (the city's) to covered_through")
    ok: bool = Field(description=f"false: fewer than {HORIZON.days} days ahead are known")
    message: str | None = None


class Health(BaseModel):
    status: Literal["ok", "warning", "degraded"] = Field(
        description="degraded (503): the database or Temporal does not answer; warning (200): see `warnings`"
    )
    database: bool
    temporal: bool
    calendar: CalendarHealth
    warnings: list[str]


def calendar_health(policy: Policy, now: datetime | None = None) -> CalendarHealth:
    today = (now or datetime.now(UTC)).astimezone(ZoneInfo(policy.calendar.timezone)).date()
    through = covered_through(policy.calendar, today)
    if through is None:
        return CalendarHealth(covered_through=None, days_ahead=None, ok=True)
    ahead = (through - today).days
    if ahead >= HORIZON.days:
        return CalendarHealth(covered_through=through, days_ahead=ahead, ok=True)
    message = (
        f"工作日历只覆盖到 {through}（还剩 {ahead} 天，少于 {HORIZON.days} 天）：请将国务院公布的 {through.year + 1} 年"
        "节假日安排加入 policy/calendar.toml（holidays、workdays），否则此后的时限按周一至周五计算"
    )
    return CalendarHealth(covered_through=through, days_ahead=ahead, ok=False, message=message)


def database_answers(engine: Engine) -> bool:
    try:
        with engine.connect() as conn:
            conn.execute(text("SELECT 1"))
    except Exception:
        return False
    return True


@router.get(
    "/healthz",
    response_model=Health,
    summary="健康检查：数据库、Temporal、工作日历",
    responses={503: {"model": Health, "description": "数据库或 Temporal 不可用"}},
)
async def healthz(parts: PartsDep, response: Response) -> Health:
    database = await run_in_threadpool(database_answers, parts.engine)
    try:
        client = await parts.temporal()
        await client.workflow_service.get_system_info(GetSystemInfoRequest(), timeout=HEALTH_TIMEOUT)
        temporal = True
    except Exception:
        temporal = False
    calendar = calendar_health(parts.policy)
    warnings = [calendar.message] if calendar.message else []
    if not (database and temporal):
        response.status_code = 503
        response.headers["Retry-After"] = "5"
        status: Literal["ok", "warning", "degraded"] = "degraded"
    else:
        status = "warning" if warnings else "ok"
    return Health(status=status, database=database, temporal=temporal, calendar=calendar, warnings=warnings)


class ReadModel(Collector):
    """Figures read from the read model when scraped, so every API process reports the same."""

    def __init__(self, engine: Engine, policy: Policy) -> None:
        self.engine, self.policy = engine, policy

    def collect(self) -> Iterator[Metric]:
        with Session(self.engine) as session:
            escalations = session.exec(
                select(func.count()).select_from(EventRow).where(EventRow.kind == EventKind.auto_escalate)
            ).one()
            overdue = session.exec(
                select(CaseRow.holder, CaseRow.tier, func.count())
                .where(CaseRow.overdue == True, CaseRow.status != Status.closed)  # noqa: E712
                .group_by(col(CaseRow.holder), col(CaseRow.tier))
            ).all()
        yield CounterMetricFamily("case_escalations", "Automatic escalations recorded", value=escalations)
        by_unit = GaugeMetricFamily(
            "cases_overdue", "Open cases overdue now, by holding unit and tier", labels=["unit", "tier"]
        )
        for unit, tier, count in overdue:
            by_unit.add_metric([unit or "", tier or ""], count)
        yield by_unit
        yield from _outbox(Outbox(self.engine).counts(datetime.now(UTC)))
        calendar = calendar_health(self.policy)
        if calendar.days_ahead is not None:
            yield GaugeMetricFamily(
                "working_calendar_days_ahead",
                f"Days ahead the working calendar knows (warn below {HORIZON.days})",
                value=calendar.days_ahead,
            )


@router.get(
    "/metrics",
    summary="Prometheus 指标",
    response_class=Response,
    responses={200: {"content": {CONTENT_TYPE_LATEST: {}}}, 503: {"model": ErrorBody}},
)
def prometheus(parts: PartsDep) -> Response:
    read_model = CollectorRegistry(auto_describe=False)
    read_model.register(ReadModel(parts.engine, parts.policy))
    body = generate_latest(metrics.REGISTRY) + generate_latest(read_model)
    return Response(body, media_type=CONTENT_TYPE_LATEST)


def _outbox(counts: dict[str, float]) -> Iterator[Metric]:
    """The notification outbox: deliveries by state, retries, possible duplicates, the oldest still waiting."""
    states = GaugeMetricFamily(
        "notifications",
        "Notification deliveries by state (queued: not routed yet; no_channel: no channel serves the recipient)",
        labels=["state"],
    )
    for state in (*STATES, "queued"):
        states.add_metric([state], counts[state])
    yield states
    yield GaugeMetricFamily(
        "notification_retries", "Attempts after the first, over all deliveries", value=counts["retries"]
    )
    yield GaugeMetricFamily(
        "notification_duplicates",
        "Sends after a send that was never confirmed (a dispatcher died mid-send): possible duplicates",
        value=counts["resent"],
    )
    yield GaugeMetricFamily(
        "notification_oldest_waiting_seconds",
        "Age of the oldest message not delivered yet (the delivery lag now)",
        value=counts["oldest_waiting_seconds"],
    )
