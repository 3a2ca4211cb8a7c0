"""Cases: intake by channels, reads by whoever may see them, queues for units, the reporter for the handler."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Annotated

from fastapi import APIRouter, Query, Request, Response
from fastapi.concurrency import run_in_threadpool
from sqlalchemy.engine import Engine
from sqlmodel import Session
from temporalio.client import RPCTimeoutOrCancelledError
from temporalio.service import RPCError

from api import metrics
from api.deps import CurrentPrincipal, PartsDep, SessionDep, SupervisorDep, TemporalDep, readable
from api.errors import ApiError, busy_reading, from_rpc, not_found
from api.schemas import (
    CaseCreate,
    CaseCreated,
    CaseDetail,
    CasesPublic,
    CaseSummary,
    DeadlinePreview,
    DeadlinePublic,
    PreviewDeadline,
    ReporterPublic,
    Timeline,
    Timestamp,
    WhistleNumber,
    public_view,
)
from models.case import Status
from models.errors import ErrorCode
from models.inputs import Role
from models.intake import Intake, ReporterRef
from models.policy import TIER_ORDER, Limit, Tier, Urgency
from models.reads import Queue, RevealsPublic, WhistleRecord
from models.tables import CaseRow, ReporterRow
from models.timeline import DEADLINE_LABEL, TIER_LABEL, DeadlineKind
from policy.snapshot import calendar_for
from rules.routing import lead_tier
from services import queries
from services.intake import QUERY_TIMEOUT, IntakeError, case_handle, check_intake, open_case, within_query_time
from services.whistles import whistle_now
from temporal_client import ui_url
from workflows.case import CaseWorkflow

router = APIRouter(prefix="/cases", tags=["cases"])
queue_router = APIRouter(tags=["cases"])

CLOCK_SKEW = timedelta(minutes=5)
OLDEST_REPORT = timedelta(days=30)


@router.post(
    "",
    response_model=CaseCreated,
    status_code=201,
    summary="受理：渠道提交诉求（同一渠道同一工单只受理一次）",
    responses={
        200: {"model": CaseCreated, "description": "该工单已受理过，返回原诉求"},
        202: {"model": CaseCreated, "description": "已受理，正在派单（稍后查询）"},
    },
)
async def create_case(
    body: CaseCreate, principal: CurrentPrincipal, parts: PartsDep, temporal: TemporalDep, response: Response
) -> CaseCreated:
    actor = principal.case_actor()
    if actor.role is not Role.channel:
        raise ApiError(403, ErrorCode.wrong_actor, "只有受理渠道可以提交诉求")
    now = datetime.now(UTC)
    reported_at = body.reported_at or now
    if reported_at > now + CLOCK_SKEW or reported_at < now - OLDEST_REPORT:
        raise ApiError(422, ErrorCode.invalid_input, "reported_at：诉求时间不能晚于当前时间，也不能早于30天前")
    intake = Intake(
        channel=actor.id,
        channel_ticket_id=body.channel_ticket_id,
        category=body.category,
        title=body.title,
        description=body.description,
        location=body.location,
        urgency=body.urgency,
        reporter=ReporterRef(confidential=body.reporter.confidential),
        attachments=body.attachments,
        reported_at=reported_at,
    )
    reporter = (body.reporter.name or "", body.reporter.phone) if body.reporter.phone else None
    try:
        check_intake(intake, parts.policy)
        opened = await open_case(
            temporal,
            parts.settings.task_queue,
            intake,
            parts.vault,
            reporter,
            parts.settings.intake_wait,
            policy=parts.policy,
        )
    except IntakeError as err:
        raise ApiError(422, ErrorCode.invalid_input, f"{err.field}：{err.message}") from err
    if opened.existed:
        response.status_code = 200
    else:
        metrics.CASES_STARTED.labels(channel=actor.id).inc()
    view = opened.view
    if view is None or view.status is Status.intake:
        # Started and durable, but not yet dispatched or not readable in time (a busy or restarting worker):
        # say so with what the read model knows, don't fail.
        response.status_code = 202
        row = await run_in_threadpool(known_row, parts.engine, opened.handle.id) if view is None else None
        return CaseCreated(
            case_id=opened.handle.id,
            created=not opened.existed,
            status=row.status if row else Status.intake.value,
            holder=row.holder if row else None,
            deadlines=[],
        )
    return CaseCreated(
        case_id=opened.handle.id,
        created=not opened.existed,
        status=view.status.value,
        holder=view.holder,
        deadlines=[DeadlinePublic.of(d) for d in view.deadlines],
    )


def known_row(engine: Engine, case_id: str) -> CaseRow | None:
    with Session(engine) as session:
        return session.get(CaseRow, case_id)


@router.get("", response_model=CasesPublic, summary="诉求列表（督办看全部，单位看本单位，渠道看本渠道）")
def list_cases(
    principal: CurrentPrincipal,
    session: SessionDep,
    status: Status | None = None,
    unit: str | None = Query(default=None, description="当前承办单位"),
    tier: Tier | None = None,
    category: str | None = None,
    overdue: bool | None = None,
    reported_from: Timestamp | None = None,
    reported_to: Timestamp | None = None,
    offset: Annotated[int, Query(ge=0, le=1_000_000)] = 0,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
) -> CasesPublic:
    actor = principal.actor
    own_channel = actor.id if actor is not None and actor.role is Role.channel else None
    if actor is not None and actor.role is Role.unit:
        if unit not in (None, actor.unit_id):
            raise ApiError(403, ErrorCode.wrong_actor, "单位只能查看本单位的诉求")
        unit = actor.unit_id
    rows, count = queries.list_cases(
        session,
        channel=own_channel,
        filters={"status": status, "holder": unit, "tier": tier, "category": category, "overdue": overdue},
        reported_from=reported_from,
        reported_to=reported_to,
        offset=offset,
        limit=limit,
    )
    return CasesPublic(data=[CaseSummary.model_validate(r, from_attributes=True) for r in rows], count=count)


@router.get("/{case_id}", response_model=CaseDetail, summary="诉求当前状态")
async def read_case(
    case_id: str, principal: CurrentPrincipal, session: SessionDep, temporal: TemporalDep
) -> CaseDetail:
    row = readable(session, principal, case_id)
    handle = case_handle(temporal, case_id)
    sees = queries.sees_reporter(
        channel=row.channel, holder=row.holder, status=row.status, role=principal.role, actor=principal.actor
    )
    try:
        async with within_query_time():
            live = await handle.query(CaseWorkflow.view, rpc_timeout=QUERY_TIMEOUT)
    except (TimeoutError, RPCTimeoutOrCancelledError) as err:  # no worker answered in time
        raise busy_reading() from err
    except RPCError as err:
        raise from_rpc(err) from err
    view = public_view(live, reporter=sees)
    return CaseDetail(case=view, deadlines=[DeadlinePublic.of(d) for d in view.deadlines], ui_url=ui_url(case_id))


@router.get(
    "/{case_id}/timeline", response_model=Timeline, summary="办理时间线（谁、哪个单位、做了什么、时限是否按时）"
)
def read_timeline(case_id: str, principal: CurrentPrincipal, session: SessionDep) -> Timeline:
    readable(session, principal, case_id)
    events = queries.timeline(session, case_id=case_id)
    return Timeline(case_id=case_id, data=events, count=len(events), ui_url=ui_url(case_id))


@router.get("/{case_id}/reporter", response_model=ReporterPublic, summary="查看诉求人联系方式（留痕）")
def reveal_reporter(
    case_id: str, principal: CurrentPrincipal, session: SessionDep, parts: PartsDep, request: Request
) -> ReporterPublic:
    row = readable(session, principal, case_id)
    actor = principal.actor
    if actor is None or not queries.may_reveal(row=row, role=principal.role, actor=actor):
        closed = row.status == Status.closed
        raise ApiError(
            403,
            ErrorCode.wrong_actor,
            "诉求已销号：只有督办人员可以查看诉求人联系方式"
            if closed
            else "只有当前承办单位和督办人员可以查看诉求人联系方式",
        )
    reporter = session.get(ReporterRow, row.reporter_ref) if row.reporter_ref else None
    if reporter is None:
        raise ApiError(404, ErrorCode.anonymous, "诉求人匿名反映，无联系方式")
    if reporter.confidential:
        raise ApiError(403, ErrorCode.confidential, "诉求人要求保密，不提供姓名和电话")
    revealed = parts.vault.reveal(reporter.ref)
    if revealed is None:
        raise not_found("诉求人信息")
    queries.record_reveal(
        session,
        case_id=case_id,
        reporter_ref=reporter.ref,
        actor=actor,
        request_id=request.headers.get("x-request-id"),
    )
    return ReporterPublic(case_id=case_id, name=revealed[0], phone=revealed[1])


@router.get(
    "/{case_id}/whistles/{n}",
    response_model=WhistleRecord,
    summary="吹哨：召集了谁、谁何时报到是否按时、谁已撤离、评价",
)
async def read_whistle(
    case_id: str,
    n: WhistleNumber,
    principal: CurrentPrincipal,
    session: SessionDep,
    parts: PartsDep,
    temporal: TemporalDep,
) -> WhistleRecord:
    readable(session, principal, case_id)
    record = queries.whistle(session, case_id=case_id, n=n, directory=parts.policy.directory)
    if record is None:
        raise not_found("吹哨")
    return await whistle_now(temporal, record)


@router.get("/{case_id}/reveals", response_model=RevealsPublic, summary="诉求人联系方式查看记录（督办）")
def read_reveals(case_id: str, principal: SupervisorDep, session: SessionDep) -> RevealsPublic:
    readable(session, principal, case_id)
    rows = queries.reveals(session, case_id=case_id)
    return RevealsPublic(data=rows, count=len(rows))


@queue_router.get(
    "/queue", response_model=Queue, summary="本单位待办：待签收、待办理、待审批、待报到，含截止时间和剩余时间"
)
def my_queue(principal: CurrentPrincipal, session: SessionDep) -> Queue:
    actor = principal.actor
    if actor is None or actor.role is not Role.unit or actor.unit_id is None:
        raise ApiError(403, ErrorCode.wrong_actor, "只有单位账号有待办队列")
    return queries.queue(session, unit_id=actor.unit_id, now=datetime.now(UTC))


@queue_router.get(
    "/deadline-preview", response_model=DeadlinePreview, summary="时限预览：某类诉求在某时刻派单会得到的时限"
)
def preview_deadlines(
    parts: PartsDep,
    principal: CurrentPrincipal,
    category: str,
    urgency: Urgency | None = None,
    at: Timestamp | None = Query(default=None, description="派单时间（含时区），默认现在"),
) -> DeadlinePreview:
    """As the case would plan them: 派单 from the report, 签收 and 办结 from dispatch, and the tier slices of a case
    that climbs on its own (each tier's from the moment the slice below runs out and the case arrives)."""
    policy = parts.policy
    cat = policy.category(category)
    if cat is None:
        raise ApiError(422, ErrorCode.invalid_input, f"category：未知的诉求类别：{category}")
    start = at or datetime.now(UTC)
    cls = urgency or cat.urgency
    limits = policy.limits[cls]
    cal = calendar_for(policy.calendar)
    tier, rule = lead_tier(cat)

    def planned(kind: str, label: str, limit: Limit, since: datetime, unit_tier: Tier | None) -> PreviewDeadline:
        due, since = cal.add(since, limit), since.astimezone(UTC)
        return PreviewDeadline(kind=kind, label=label, limit=str(limit), due_at=due, starts_at=since, tier=unit_tier)

    shown = [
        planned("dispatch", DEADLINE_LABEL[DeadlineKind.dispatch], limits.dispatch, start, None),
        planned("sign", DEADLINE_LABEL[DeadlineKind.sign], limits.sign, start, tier),
        planned("reply", DEADLINE_LABEL[DeadlineKind.reply], cat.whole_case_limit(cls, limits), start, None),
    ]
    # A tier without a slice keeps the case until someone moves it: nothing above it is timed.
    since = start
    for t in TIER_ORDER[TIER_ORDER.index(tier) :] if tier in TIER_ORDER else ():
        if t not in limits.tier_slices:
            break
        label = f"{TIER_LABEL[t]}{DEADLINE_LABEL[DeadlineKind.tier]}"
        shown.append(planned(f"tier:{t.value}", label, limits.tier_slices[t], since, t))
        since = shown[-1].due_at
    return DeadlinePreview(category=category, urgency=cls, start=start, rule=rule, lead_tier=tier, deadlines=shown)
