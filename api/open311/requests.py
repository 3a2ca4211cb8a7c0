"""GET requests: the requests a key (or, when reads are public, anyone) may see, as they were posted."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request, Response
from pydantic import AwareDatetime
from sqlmodel import col, func, select

from api.deps import PartsDep, SessionDep
from api.open311.access import reader
from api.open311.errors import ERRORS, Open311Error
from api.open311.formats import Format, render, responses
from api.open311.schemas import ServiceRequest, coordinates_address
from api.open311.time import local
from models.case import STATUS_LABEL, Status
from models.errors import ErrorCode
from models.inputs import Actor, Role
from models.policy import Policy
from models.tables import CaseRow, EventRow

router = APIRouter()

DEFAULT_WINDOW = timedelta(days=90)
MAX_RESULTS = 1000
ApiKey = Annotated[
    str | None, Query(description="a channel's or a supervisor's key; optional when OPEN311_PUBLIC_READS is on")
]


def _as_stored(at: datetime) -> datetime:
    # SQLite drops the offset of a bound datetime, so compare in UTC, as the read model stores times.
    return at.astimezone(UTC)


def _requests(session: SessionDep, policy: Policy, rows: Sequence[CaseRow]) -> list[ServiceRequest]:
    ids = [r.case_id for r in rows]
    latest: dict[str, datetime] = {}
    if ids:
        found = session.exec(
            select(EventRow.case_id, func.max(EventRow.at))
            .where(col(EventRow.case_id).in_(ids))
            .group_by(EventRow.case_id)
        ).all()
        latest = {case_id: at for case_id, at in found if at is not None}
    out = []
    for row in rows:
        status = Status(row.status)
        category = policy.category(row.category)
        holder = policy.directory.get(row.holder) if row.holder else None
        grid = policy.directory.get(row.grid_id)
        updated = row.closed_at or latest.get(row.case_id) or row.reported_at
        posted = row.address if row.address != coordinates_address(row.lat, row.lng) else None
        out.append(
            ServiceRequest(
                service_request_id=row.case_id,
                status="closed" if status is Status.closed else "open",
                status_notes=STATUS_LABEL[status],
                service_name=category.name if category else row.category,
                service_code=row.category,
                description=row.description or row.title,
                agency_responsible=holder.name if holder else None,
                requested_datetime=local(row.reported_at, policy),
                updated_datetime=local(updated, policy),
                expected_datetime=local(row.reply_due, policy) if row.reply_due else None,
                address=posted or (grid.name if grid else row.grid_id),
                lat=row.lat,
                long=row.lng,
                media_url=row.media_url,
            )
        )
    return out


def _window(start_date: datetime | None, end_date: datetime | None) -> list[Any]:
    """The requested-time window: both ends as given, one end plus or minus 90 days, or the last 90 days."""
    try:
        if start_date and end_date:
            start, end = start_date, end_date
        elif start_date:
            start, end = start_date, start_date + DEFAULT_WINDOW
        else:
            end = end_date or datetime.now(UTC)
            start = end - DEFAULT_WINDOW
        bounds = _as_stored(start), _as_stored(end)
    except OverflowError as err:
        raise Open311Error(400, "start_date/end_date：日期超出可查询范围") from err
    if end < start:
        raise Open311Error(400, "end_date：不能早于 start_date")
    if end - start > DEFAULT_WINDOW:
        raise Open311Error(400, "start_date/end_date：查询时间跨度不能超过90天")
    return [col(CaseRow.reported_at) >= bounds[0], col(CaseRow.reported_at) <= bounds[1]]


def _split(value: str | None) -> list[str]:
    return [v.strip() for v in (value or "").split(",") if v.strip()]


def _visible(actor: Actor | None) -> list[Any]:
    """A channel sees the cases it submitted; a supervisor and a public reader every case."""
    return [CaseRow.channel == actor.id] if actor is not None and actor.role is Role.channel else []


@router.get(
    "/requests.{format}",
    response_model=list[ServiceRequest],
    responses={**responses(list[ServiceRequest], "诉求列表"), **ERRORS},
    summary="Open311：查询诉求（渠道看本渠道，督办看全部；公开查询可配置）",
)
def list_requests(
    format: Format,
    request: Request,
    parts: PartsDep,
    session: SessionDep,
    api_key: ApiKey = None,
    service_request_id: Annotated[str | None, Query(description="comma separated; overrides all other filters")] = None,
    service_code: Annotated[str | None, Query(description="comma separated")] = None,
    start_date: Annotated[AwareDatetime | None, Query(description="w3 datetime with offset")] = None,
    end_date: Annotated[AwareDatetime | None, Query(description="w3 datetime with offset")] = None,
    status: Annotated[str | None, Query(description="open, closed, or both comma separated")] = None,
) -> Response:
    """Requests the caller may see, newest first, at most 1000.

    Without `service_request_id` the window is `start_date`..`end_date` on the requested time, at most 90 days,
    by default the last 90 days.
    """
    where = _visible(reader(parts, request, api_key))
    ids = _split(service_request_id)
    if ids:
        where.append(col(CaseRow.case_id).in_(ids[:MAX_RESULTS]))
    else:
        statuses = set(_split(status))
        if not statuses <= {"open", "closed"}:
            raise Open311Error(400, "status：只能是 open 或 closed（可用逗号同时给出）")
        if statuses == {"open"}:
            where.append(CaseRow.status != Status.closed.value)
        elif statuses == {"closed"}:
            where.append(CaseRow.status == Status.closed.value)
        codes = _split(service_code)
        if codes:
            where.append(col(CaseRow.category).in_(codes))
        where += _window(start_date, end_date)
    rows = session.exec(
        select(CaseRow).where(*where).order_by(col(CaseRow.reported_at).desc()).limit(MAX_RESULTS)
    ).all()
    return render(format, "service_requests", _requests(session, parts.policy, rows))


@router.get(
    "/requests/{service_request_id}.{format}",
    response_model=list[ServiceRequest],
    responses={**responses(list[ServiceRequest], "单个诉求（一项的列表）"), **ERRORS},
    summary="Open311：查询单个诉求",
)
def read_request(
    service_request_id: str,
    format: Format,
    request: Request,
    parts: PartsDep,
    session: SessionDep,
    api_key: ApiKey = None,
) -> Response:
    """One request as a one-element list; 404 when unknown or not the key's to see (a channel's own cases)."""
    actor = reader(parts, request, api_key)
    row = session.get(CaseRow, service_request_id)
    if row is None or (actor is not None and actor.role is Role.channel and row.channel != actor.id):
        raise Open311Error(404, f"诉求不存在：{service_request_id}", ErrorCode.not_found)
    return render(format, "service_requests", _requests(session, parts.policy, [row]))
