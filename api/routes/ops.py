"""Health and Prometheus metrics."""

from __future__ import annotations

from datetime import UTC, datetime

from fastapi import APIRouter, Response
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from pydantic import BaseModel
from sqlmodel import func, select
from temporalio.api.workflowservice.v1 import GetSystemInfoRequest

from api import metrics
from api.deps import PartsDep, SessionDep
from models.case import EventKind, Status
from models.tables import CaseRow, EventRow
from notifications.outbox import STATES, Outbox

router = APIRouter(tags=["ops"])


class Health(BaseModel):
    status: str
    database: bool
    temporal: bool


@router.get("/healthz", response_model=Health, summary="健康检查")
async def healthz(parts: PartsDep, session: SessionDep, response: Response) -> Health:
    database = session.exec(select(func.count()).select_from(CaseRow)).one() >= 0
    try:
        client = await parts.temporal()
        await client.workflow_service.get_system_info(GetSystemInfoRequest())
        temporal = True
    except Exception:
        temporal = False
    if not temporal:
        response.status_code = 503
    return Health(status="ok" if temporal and database else "degraded", database=database, temporal=temporal)


@router.get("/metrics", summary="Prometheus 指标", response_class=Response)
def prometheus(session: SessionDep, parts: PartsDep) -> Response:
    metrics.ESCALATIONS.set(
        session.exec(select(func.count()).select_from(EventRow).where(EventRow.kind == EventKind.auto_escalate)).one()
    )
    metrics.OVERDUE.set(
        session.exec(
            select(func.count()).select_from(CaseRow).where(CaseRow.overdue == True, CaseRow.status != Status.closed)  # noqa: E712
        ).one()
    )
    notification_metrics(Outbox(parts.engine).counts(datetime.now(UTC)))
    return Response(generate_latest(metrics.REGISTRY), media_type=CONTENT_TYPE_LATEST)


def notification_metrics(counts: dict[str, float]) -> None:
    for state in (*STATES, "queued"):
        metrics.NOTIFICATIONS.labels(state=state).set(counts[state])
    metrics.NOTIFICATION_RETRIES.set(counts["retries"])
    metrics.NOTIFICATION_DUPLICATES.set(counts["resent"])
    metrics.NOTIFICATION_LAG.set(counts["oldest_waiting_seconds"])
