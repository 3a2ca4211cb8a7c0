"""Health and Prometheus metrics."""

from __future__ import annotations

from fastapi import APIRouter, Response
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from pydantic import BaseModel
from sqlmodel import func, select
from temporalio.api.workflowservice.v1 import GetSystemInfoRequest

from api import metrics
from api.deps import PartsDep, SessionDep
from models.case import EventKind, Status
from models.tables import CaseRow, EventRow

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
def prometheus(session: SessionDep) -> Response:
    metrics.ESCALATIONS.set(
        session.exec(select(func.count()).select_from(EventRow).where(EventRow.kind == EventKind.auto_escalate)).one()
    )
    metrics.OVERDUE.set(
        session.exec(
            select(func.count()).select_from(CaseRow).where(CaseRow.overdue == True, CaseRow.status != Status.closed)  # noqa: E712
        ).one()
    )
    return Response(generate_latest(metrics.REGISTRY), media_type=CONTENT_TYPE_LATEST)
