"""Open311 GeoReport v2 (https://wiki.open311.org/GeoReport_v2), so existing civic apps can submit and track cases.

Only the JSON format (`.json`) is served. Each category of the 派单目录 is a service; its one attribute is the grid
(`grid_id`) the case is in. A posted request becomes an ordinary case of the channel whose `api_key` posted it, so
it is dispatched, urged, escalated and rated like any other.

Errors come in the standard's shape, not the engine's `{code, message}`: a JSON list
`[{"code": <HTTP status>, "description": "..."}]` answered with that HTTP status (400 bad input, 403 bad key,
404 unknown, 503 Temporal unavailable).

Keys: service discovery is public as the standard wants. Posting needs a channel key. Reading requests needs a
key too (a channel sees its own cases, a supervisor all of them): the standard allows public reads, but cases are
residents' matters and this engine shows them to accountable callers only. The key is the `api_key` argument; an
`Authorization: Bearer` header is taken as well.

Reporter privacy: a phone number (with the name, last_name + first_name) goes to the reporter vault only; an
email address is dropped unread; neither is ever answered back.
"""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Callable, Coroutine, Sequence
from datetime import UTC, datetime, timedelta
from typing import Annotated, Any, Literal
from zoneinfo import ZoneInfo

import structlog
from fastapi import APIRouter, Query, Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from fastapi.routing import APIRoute
from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, ValidationError, field_validator
from sqlmodel import col, func, select
from temporalio.client import RPCTimeoutOrCancelledError
from temporalio.service import RPCError

from api import auth, metrics
from api.deps import PartsDep, SessionDep
from api.errors import ApiError, busy, from_rpc
from models.case import (
    STATUS_LABEL,
    Actor,
    DeadlineKind,
    Intake,
    Location,
    ReporterRef,
    Role,
    Status,
)
from models.policy import Category, OwnerRule, Policy, Tier, Urgency
from models.tables import CaseRow, EventRow
from services.intake import IntakeError, check_intake, open_case

log = structlog.get_logger(__name__)

GRID_ATTRIBUTE = "grid_id"
DEFAULT_WINDOW = timedelta(days=90)
MAX_RESULTS = 1000
TITLE_CHARS = 40
URGENCY_LABEL = {
    Urgency.emergency: "紧急",
    Urgency.time_sensitive: "急",
    Urgency.general: "一般",
    Urgency.complex: "疑难",
}
OWNER_RULE_LABEL = {
    OwnerRule.locality: "先属地后属主",
    OwnerRule.owner: "先属主后属地",
    OwnerRule.fallback: "兜底",
}


# ---------------------------------------------------------------------------------------------------------
# errors in the standard's shape


class Open311Error(Exception):
    """A refusal answered as `[{"code": status, "description": ...}]`; `reason` is for metrics and logs."""

    def __init__(self, status: int, description: str, reason: str = "InvalidInput") -> None:
        super().__init__(description)
        self.status, self.description, self.reason = status, description, reason


def error_response(request: Request, err: Open311Error, headers: dict[str, str] | None = None) -> JSONResponse:
    metrics.REJECTIONS.labels(code=err.reason).inc()
    log.info("open311_refused", status=err.status, code=err.reason, path=request.url.path)
    return JSONResponse([{"code": err.status, "description": err.description}], status_code=err.status, headers=headers)


class Open311Route(APIRoute):
    """Turns every refusal on these routes (ours, the engine's, FastAPI's validation) into the standard's list."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def route(request: Request) -> Response:
            try:
                return await handler(request)
            except Open311Error as err:
                return error_response(request, err)
            except RequestValidationError as err:
                named = "；".join(f"{_loc(e['loc'])}：{e['msg']}" for e in err.errors())
                return error_response(request, Open311Error(400, f"请求参数有误：{named}"))
            except ApiError as err:
                return _in_open311(request, err)
            except RPCError as err:
                return _in_open311(request, from_rpc(err))
            except RPCTimeoutOrCancelledError:
                return _in_open311(request, busy())

        return route


def _in_open311(request: Request, err: ApiError) -> JSONResponse:
    return error_response(request, Open311Error(err.status, err.message, err.code), err.headers)


def _loc(loc: Sequence[Any]) -> str:
    # ("query", "start_date") → "start_date"; the body and query prefixes say nothing to the client.
    parts = [str(p) for p in loc if p not in ("query", "body", "path", "header")]
    return ".".join(parts) or "request"


router = APIRouter(prefix="/open311/v2", tags=["open311"], route_class=Open311Route)

ERRORS: dict[int | str, dict[str, Any]] = {
    code: {"description": text, "model": list[dict[str, Any]]}
    for code, text in ((400, "请求有误"), (403, "api_key 无效或无权"), (404, "不存在"))
}


# ---------------------------------------------------------------------------------------------------------
# bodies


class Service(BaseModel):
    service_code: str
    service_name: str
    description: str
    metadata: bool = Field(description="true: the service has attributes (the grid); see its definition")
    type: Literal["realtime", "batch", "blackbox"]
    keywords: str = Field(description="comma separated")
    group: str = Field(description="the urgency class (紧急 / 急 / 一般 / 疑难)")


class AttributeValue(BaseModel):
    key: str
    name: str


class Attribute(BaseModel):
    variable: bool
    code: str
    datatype: Literal["string", "number", "datetime", "text", "singlevaluelist", "multivaluelist"]
    required: bool
    datatype_description: str
    order: int
    description: str
    values: list[AttributeValue]


class ServiceDefinition(BaseModel):
    service_code: str
    attributes: list[Attribute]


class RequestCreated(BaseModel):
    service_request_id: str
    service_notice: str
    account_id: str | None = None


class ServiceRequest(BaseModel):
    service_request_id: str
    status: Literal["open", "closed"]
    status_notes: str
    service_name: str
    service_code: str
    description: str
    agency_responsible: str | None
    service_notice: str | None = None
    requested_datetime: datetime
    updated_datetime: datetime
    expected_datetime: datetime | None
    address: str = Field(description="the grid's name; cases keep no street address in the read model")
    address_id: str | None = None
    zipcode: str | None = None
    lat: float | None = None
    long: float | None = None
    media_url: str | None = None


class NewRequest(BaseModel):
    """POST requests.json arguments. Form-encoded as the standard has it, or JSON with `attribute` an object.

    Arguments the engine does not use (email, device_id, account_id, jurisdiction_id, address_id) are accepted and
    dropped; an email address is never stored.
    """

    model_config = ConfigDict(extra="ignore", populate_by_name=True, str_strip_whitespace=True)

    api_key: str | None = Field(default=None, description="a channel's key")
    service_code: str = Field(description="the category id, from services.json")
    lat: float | None = Field(default=None, ge=-90, le=90)
    long: float | None = Field(default=None, ge=-180, le=180)
    address_string: str | None = Field(default=None, max_length=200)
    grid_id: str | None = Field(default=None, alias="attribute[grid_id]", description="所在网格 (required)")
    description: str | None = Field(default=None, max_length=2000)
    first_name: str | None = Field(default=None, max_length=25)
    last_name: str | None = Field(default=None, max_length=25)
    phone: str | None = Field(default=None, max_length=20)
    media_url: str | None = Field(default=None, max_length=500)

    @field_validator("*", mode="before")
    @classmethod
    def _blank_is_absent(cls, v: Any) -> Any:
        # HTML forms send empty fields as "".
        return None if isinstance(v, str) and not v.strip() else v


def _post_body_docs() -> dict[str, Any]:
    form = NewRequest.model_json_schema(by_alias=True)
    as_json = NewRequest.model_json_schema(by_alias=True)
    as_json["properties"] = dict(as_json["properties"])
    as_json["properties"].pop(f"attribute[{GRID_ATTRIBUTE}]")
    as_json["properties"]["attribute"] = {
        "type": "object",
        "properties": {GRID_ATTRIBUTE: {"type": "string", "description": "所在网格"}},
        "required": [GRID_ATTRIBUTE],
    }
    return {
        "requestBody": {
            "required": True,
            "content": {"application/x-www-form-urlencoded": {"schema": form}, "application/json": {"schema": as_json}},
        },
        "parameters": [
            {
                "name": "Idempotency-Key",
                "in": "header",
                "required": False,
                "schema": {"type": "string", "maxLength": 200},
                "description": "同一渠道重复提交同一键只受理一次（也接受 X-Request-Id）",
            }
        ],
    }


# ---------------------------------------------------------------------------------------------------------
# services


def _service(cat: Category, policy: Policy) -> Service:
    urgency = URGENCY_LABEL[cat.urgency]
    rule = OWNER_RULE_LABEL[cat.owner_rule]
    reply = cat.reply_limit or policy.limits[cat.urgency].reply
    return Service(
        service_code=cat.id,
        service_name=cat.name,
        description=f"{cat.name}：{urgency}类诉求，{rule}，办结时限{reply}",
        metadata=True,
        type="realtime",
        keywords=",".join((cat.name, urgency, rule)),
        group=urgency,
    )


@router.get("/services.json", response_model=list[Service], summary="Open311：服务（诉求类别）列表，无需密钥")
def list_services(parts: PartsDep) -> list[Service]:
    return [_service(c, parts.policy) for c in parts.policy.categories]


@router.get(
    "/services/{service_code}.json",
    response_model=ServiceDefinition,
    responses={404: ERRORS[404]},
    summary="Open311：服务定义（所在网格属性），无需密钥",
)
def service_definition(service_code: str, parts: PartsDep) -> ServiceDefinition:
    policy = parts.policy
    if policy.category(service_code) is None:
        raise Open311Error(404, f"未知的服务类别：{service_code}", "NotFound")
    grids = [u for u in policy.directory.units if u.tier is Tier.grid]
    return ServiceDefinition(
        service_code=service_code,
        attributes=[
            Attribute(
                variable=True,
                code=GRID_ATTRIBUTE,
                datatype="singlevaluelist",
                required=True,
                datatype_description="请选择诉求发生地所在的网格",
                order=1,
                description="所在网格",
                values=[AttributeValue(key=g.id, name=g.name) for g in grids],
            )
        ],
    )


# ---------------------------------------------------------------------------------------------------------
# keys


def _caller(parts: PartsDep, request: Request, api_key: str | None) -> Actor:
    """The actor of the key in `api_key` (or the Bearer header); 403 for no key, a dead key or an admin key."""
    key = api_key
    if not key:
        header = request.headers.get("authorization", "")
        if header.lower().startswith("bearer "):
            key = header.split(" ", 1)[1].strip()
    found = auth.lookup(parts.engine, key) if key else None
    if found is None or found[1] is None:
        raise Open311Error(403, "api_key 缺失、无效或已吊销", "Unauthenticated")
    return found[1]


def _ticket(request: Request) -> str:
    """The channel ticket: from the client's Idempotency-Key (or X-Request-Id), else fresh."""
    given = request.headers.get("idempotency-key") or request.headers.get("x-request-id")
    if given:
        return hashlib.sha256(given.encode()).hexdigest()[:32]
    return uuid.uuid4().hex


# ---------------------------------------------------------------------------------------------------------
# POST a request


async def _fields(request: Request) -> dict[str, Any]:
    kind = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if kind == "application/json" or kind.endswith("+json"):
        try:
            data = await request.json()
        except ValueError as err:
            raise Open311Error(400, "请求体不是合法的 JSON") from err
        if not isinstance(data, dict):
            raise Open311Error(400, "请求体须为 JSON 对象")
        fields = dict(data)
        attributes = fields.pop("attribute", None)
        if attributes is not None and not isinstance(attributes, dict):
            raise Open311Error(400, 'attribute：须为对象，例如 {"grid_id": "grid-a1-1"}')
        for code, value in (attributes or {}).items():
            fields.setdefault(f"attribute[{code}]", value)
        return fields
    if kind in ("application/x-www-form-urlencoded", "multipart/form-data"):
        form = await request.form()
        # Uploaded files (the v2.1 draft's `media`) are not taken; media_url is.
        return {k: v for k, v in form.multi_items() if isinstance(v, str)}
    if not await request.body():
        return {}
    raise Open311Error(400, "不支持的请求格式：请使用 application/x-www-form-urlencoded 或 application/json")


@router.post(
    "/requests.json",
    response_model=list[RequestCreated],
    status_code=201,
    responses={200: {"description": "该 Idempotency-Key 已受理过，返回原诉求"}, **ERRORS},
    openapi_extra=_post_body_docs(),
    summary="Open311：提交诉求（渠道密钥）",
)
async def create_request(request: Request, response: Response, parts: PartsDep) -> list[RequestCreated]:
    """A channel submits a case. The key is checked before anything else; a refusal starts nothing.

    Posting again with the same `Idempotency-Key` (or `X-Request-Id`) header returns the first case with 200.
    """
    fields = await _fields(request)
    given = fields.get("api_key")
    actor = _caller(parts, request, given if isinstance(given, str) and given else request.query_params.get("api_key"))
    if actor.role is not Role.channel:
        raise Open311Error(403, "只有受理渠道的 api_key 可以提交诉求", "WrongActor")
    try:
        body = NewRequest.model_validate(fields)
    except ValidationError as err:
        named = "；".join(f"{_loc(e['loc'])}：{e['msg']}" for e in err.errors())
        raise Open311Error(400, f"请求参数有误：{named}") from err

    policy = parts.policy
    category = policy.category(body.service_code)
    if category is None:
        raise Open311Error(400, f"service_code：未知的服务类别：{body.service_code}")
    if not body.grid_id:
        raise Open311Error(400, f"attribute[{GRID_ATTRIBUTE}]：必填，诉求所在网格（见服务定义）")
    if (body.lat is None) != (body.long is None):
        raise Open311Error(400, "lat/long：经纬度须同时提供")
    if body.lat is None and not body.address_string:
        raise Open311Error(400, "须提供位置：lat/long 或 address_string 之一")
    address = body.address_string or f"经纬度 {body.lat},{body.long}"

    text = body.description or category.name
    title = " ".join(text.split())[:TITLE_CHARS] or category.name
    try:
        intake = Intake(
            channel=actor.id,
            channel_ticket_id=_ticket(request),
            category=category.id,
            title=title,
            description=text,
            location=Location(grid_id=body.grid_id, address=address, lat=body.lat, lng=body.long),
            reporter=ReporterRef(),
            attachments=[body.media_url] if body.media_url else [],
            reported_at=datetime.now(UTC),
        )
    except ValidationError as err:
        fields_at_fault = {_open311_name(e["loc"]) for e in err.errors()}
        raise Open311Error(400, "请求参数有误：" + "、".join(sorted(fields_at_fault))) from err
    name = f"{body.last_name or ''}{body.first_name or ''}"
    reporter = (name, body.phone) if body.phone else None
    try:
        check_intake(intake, policy)
        opened = await open_case(
            await parts.temporal(),
            parts.settings.task_queue,
            intake,
            parts.vault,
            reporter,
            parts.settings.intake_wait,
            policy=policy,
        )
    except IntakeError as err:
        raise Open311Error(400, f"{_OPEN311_FIELD.get(err.field, err.field)}：{err.message}") from err
    handle, existed, view = opened.handle, opened.existed, opened.view
    if existed:
        response.status_code = 200
    else:
        metrics.CASES_STARTED.labels(channel=actor.id).inc()
    log.info("open311_request", case_id=handle.id, service_code=category.id, created=not existed)

    if view is None:
        return [RequestCreated(service_request_id=handle.id, service_notice="已受理，正在派单。")]
    holder = policy.directory.get(view.holder) if view.holder else None
    notice = f"已受理，已派{holder.name if holder else '承办单位'}办理"
    reply = next((d for d in view.deadlines if d.kind is DeadlineKind.reply and d.open), None)
    if reply is not None:
        notice += f"，办结时限至{_local(reply.due_at, policy):%Y-%m-%d %H:%M}"
    return [RequestCreated(service_request_id=handle.id, service_notice=notice + "。")]


_OPEN311_FIELD = {
    "category": "service_code",
    "location.grid_id": f"attribute[{GRID_ATTRIBUTE}]",
    "grid_id": f"attribute[{GRID_ATTRIBUTE}]",
    "address": "address_string",
    "lng": "long",
    "title": "description",
    "attachments": "media_url",
    "reporter.phone": "phone",
}


def _open311_name(loc: Sequence[Any]) -> str:
    names = [str(p) for p in loc if not isinstance(p, int)]
    return _OPEN311_FIELD.get(names[-1] if names else "", names[-1] if names else "request")


# ---------------------------------------------------------------------------------------------------------
# GET requests


def _reader(parts: PartsDep, request: Request, api_key: str | None) -> Actor:
    actor = _caller(parts, request, api_key)
    if actor.role not in (Role.channel, Role.supervisor):
        raise Open311Error(403, "只有受理渠道和督办人员的 api_key 可以查询诉求", "WrongActor")
    return actor


def _local(at: datetime, policy: Policy) -> datetime:
    # SQLite hands datetimes back naive; they were stored in UTC.
    aware = at if at.tzinfo else at.replace(tzinfo=UTC)
    return aware.astimezone(ZoneInfo(policy.calendar.timezone))


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
        out.append(
            ServiceRequest(
                service_request_id=row.case_id,
                status="closed" if status is Status.closed else "open",
                status_notes=STATUS_LABEL[status],
                service_name=category.name if category else row.category,
                service_code=row.category,
                description=row.title,
                agency_responsible=holder.name if holder else None,
                requested_datetime=_local(row.reported_at, policy),
                updated_datetime=_local(updated, policy),
                expected_datetime=_local(row.reply_due, policy) if row.reply_due else None,
                address=grid.name if grid else row.grid_id,
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


@router.get(
    "/requests.json",
    response_model=list[ServiceRequest],
    responses=ERRORS,
    summary="Open311：查询诉求（渠道看本渠道，督办看全部；须 api_key）",
)
def list_requests(
    request: Request,
    parts: PartsDep,
    session: SessionDep,
    api_key: Annotated[str | None, Query(description="a channel's or a supervisor's key")] = None,
    service_request_id: Annotated[str | None, Query(description="comma separated; overrides all other filters")] = None,
    service_code: Annotated[str | None, Query(description="comma separated")] = None,
    start_date: Annotated[AwareDatetime | None, Query(description="w3 datetime with offset")] = None,
    end_date: Annotated[AwareDatetime | None, Query(description="w3 datetime with offset")] = None,
    status: Annotated[str | None, Query(description="open, closed, or both comma separated")] = None,
) -> list[ServiceRequest]:
    """Requests the key may see, newest first, at most 1000.

    A key is required (unlike the standard, which allows public reads): a channel sees the cases it submitted, a
    supervisor every case. Without `service_request_id` the window is `start_date`..`end_date` on the
    requested time, at most 90 days, by default the last 90 days.
    """
    actor = _reader(parts, request, api_key)
    where: list[Any] = []
    if actor.role is Role.channel:
        where.append(CaseRow.channel == actor.id)
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
    return _requests(session, parts.policy, rows)


@router.get(
    "/requests/{service_request_id}.json",
    response_model=list[ServiceRequest],
    responses=ERRORS,
    summary="Open311：查询单个诉求（须 api_key）",
)
def read_request(
    service_request_id: str,
    request: Request,
    parts: PartsDep,
    session: SessionDep,
    api_key: Annotated[str | None, Query(description="a channel's or a supervisor's key")] = None,
) -> list[ServiceRequest]:
    """One request as a one-element list; 404 when unknown or not the key's to see (a channel's own cases)."""
    actor = _reader(parts, request, api_key)
    row = session.get(CaseRow, service_request_id)
    if row is None or (actor.role is Role.channel and row.channel != actor.id):
        raise Open311Error(404, f"诉求不存在：{service_request_id}", "NotFound")
    return _requests(session, parts.policy, [row])
