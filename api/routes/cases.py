"""Cases: intake by channels, reads by whoever may see them, queues for units, the reporter for the handler."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request, Response
from fastapi.concurrency import run_in_threadpool
from sqlalchemy.engine import Engine
from sqlmodel import Session, col, func, select

from api import metrics
from api.deps import CurrentPrincipal, PartsDep, Principal, SessionDep, TemporalDep
from api.errors import ApiError, not_found
from api.schemas import (
    CaseCreate,
    CaseCreated,
    CaseDetail,
    CasesPublic,
    CaseSummary,
    DeadlinePreview,
    DeadlinePublic,
    PreviewDeadline,
    Queue,
    QueueItem,
    ReporterPublic,
    Timeline,
    Timestamp,
    public_view,
)
from config import settings
from models.case import (
    DEADLINE_LABEL,
    CaseEvent,
    DeadlineKind,
    DeadlineRef,
    EventKind,
    Intake,
    ReporterRef,
    Role,
    Status,
)
from models.policy import Limit, Tier, Urgency
from models.tables import CaseRow, EventRow, ReporterRow, RevealAudit
from policy.snapshot import calendar_for
from services.intake import IntakeError, case_handle, check_intake, open_case
from workflows.case import CaseWorkflow

router = APIRouter(prefix="/cases", tags=["cases"])
queue_router = APIRouter(tags=["cases"])

CLOCK_SKEW = timedelta(minutes=5)
OLDEST_REPORT = timedelta(days=30)
TODO = {
    Status.dispatched: "签收",
    Status.handling: "办理",
    Status.suspended: "挂账中（可恢复办理）",
    Status.supervisor: "督办处置",
}


def ui_url(case_id: str) -> str:
    return f"{settings.temporal_ui_url}/namespaces/{settings.temporal_namespace}/workflows/{case_id}"


def case_row(session: SessionDep, case_id: str) -> CaseRow:
    row = session.get(CaseRow, case_id)
    if row is None:
        raise not_found()
    return row


def may_read(principal: Principal, row: CaseRow, session: SessionDep) -> None:
    """Supervisors read all; a channel its own cases; a unit the cases that are or were at it."""
    actor = principal.actor
    if principal.is_supervisor or principal.role == "admin":
        return
    if actor is not None and actor.role is Role.channel and row.channel == actor.id:
        return
    if actor is not None and actor.role is Role.unit:
        if actor.unit_id in (row.holder, row.awaiting):
            return
        touched = session.exec(
            select(EventRow.id).where(EventRow.case_id == row.case_id, EventRow.unit_id == actor.unit_id).limit(1)
        ).first()
        if touched is not None:
            return
    raise ApiError(403, "WrongActor", "无权查看该诉求")


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
        raise ApiError(403, "WrongActor", "只有受理渠道可以提交诉求")
    now = datetime.now(UTC)
    reported_at = body.reported_at or now
    if reported_at > now + CLOCK_SKEW or reported_at < now - OLDEST_REPORT:
        raise ApiError(422, "InvalidInput", "reported_at：诉求时间不能晚于当前时间，也不能早于30天前")
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
        raise ApiError(422, "InvalidInput", f"{err.field}：{err.message}") from err
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
    where: list[Any] = []
    if actor is not None and actor.role is Role.channel:
        where.append(CaseRow.channel == actor.id)
    elif actor is not None and actor.role is Role.unit:
        if unit not in (None, actor.unit_id):
            raise ApiError(403, "WrongActor", "单位只能查看本单位的诉求")
        unit = actor.unit_id
    for column, value in (
        (CaseRow.status, status),
        (CaseRow.holder, unit),
        (CaseRow.tier, tier),
        (CaseRow.category, category),
        (CaseRow.overdue, overdue),
    ):
        if value is not None:
            where.append(column == value)
    if reported_from is not None:
        where.append(col(CaseRow.reported_at) >= reported_from)
    if reported_to is not None:
        where.append(col(CaseRow.reported_at) < reported_to)
    count = session.exec(select(func.count()).select_from(CaseRow).where(*where)).one()
    rows = session.exec(
        select(CaseRow).where(*where).order_by(col(CaseRow.reported_at).desc()).offset(offset).limit(limit)
    ).all()
    return CasesPublic(data=[CaseSummary.model_validate(r, from_attributes=True) for r in rows], count=count)


@router.get("/{case_id}", response_model=CaseDetail, summary="诉求当前状态")
async def read_case(
    case_id: str, principal: CurrentPrincipal, session: SessionDep, temporal: TemporalDep
) -> CaseDetail:
    may_read(principal, case_row(session, case_id), session)
    handle = case_handle(temporal, case_id)
    view = public_view(await handle.query(CaseWorkflow.view))
    return CaseDetail(case=view, deadlines=[DeadlinePublic.of(d) for d in view.deadlines], ui_url=ui_url(case_id))


@router.get(
    "/{case_id}/timeline", response_model=Timeline, summary="办理时间线（谁、哪个单位、做了什么、时限是否按时）"
)
def read_timeline(case_id: str, principal: CurrentPrincipal, session: SessionDep) -> Timeline:
    may_read(principal, case_row(session, case_id), session)
    rows = session.exec(select(EventRow).where(EventRow.case_id == case_id).order_by(col(EventRow.seq))).all()
    events = [
        CaseEvent(
            seq=r.seq,
            at=r.at,
            kind=EventKind(r.kind),
            actor=r.actor,
            unit_id=r.unit_id,
            tier=Tier(r.tier) if r.tier else None,
            text=r.text,
            data=r.data,
            deadline=DeadlineRef(
                kind=DeadlineKind(r.deadline_kind), unit_id=r.unit_id or "", due_at=r.deadline_due, met=r.deadline_met
            )
            if r.deadline_kind and r.deadline_due
            else None,
        )
        for r in rows
    ]
    return Timeline(case_id=case_id, data=events, count=len(events), ui_url=ui_url(case_id))


@router.get("/{case_id}/reporter", response_model=ReporterPublic, summary="查看诉求人联系方式（留痕）")
def reveal_reporter(
    case_id: str, principal: CurrentPrincipal, session: SessionDep, parts: PartsDep, request: Request
) -> ReporterPublic:
    row = case_row(session, case_id)
    actor = principal.actor
    handling = actor is not None and actor.role is Role.unit and actor.unit_id == row.holder
    if not (handling or principal.is_supervisor):
        raise ApiError(403, "WrongActor", "只有当前承办单位和督办人员可以查看诉求人联系方式")
    reporter = session.get(ReporterRow, row.reporter_ref) if row.reporter_ref else None
    if reporter is None:
        raise ApiError(404, "Anonymous", "诉求人匿名反映，无联系方式")
    if reporter.confidential:
        raise ApiError(403, "Confidential", "诉求人要求保密，不提供姓名和电话")
    revealed = parts.vault.reveal(reporter.ref)
    if revealed is None:
        raise not_found("诉求人信息")
    assert actor is not None
    session.add(
        RevealAudit(
            case_id=case_id,
            reporter_ref=reporter.ref,
            actor=actor.label(),
            unit_id=actor.unit_id,
            at=datetime.now(UTC),
            request_id=request.headers.get("x-request-id"),
        )
    )
    session.commit()
    return ReporterPublic(case_id=case_id, name=revealed[0], phone=revealed[1])


@queue_router.get("/queue", response_model=Queue, summary="本单位待办：待签收、待办理、待审批、待报到，含剩余时间")
def my_queue(principal: CurrentPrincipal, session: SessionDep) -> Queue:
    actor = principal.actor
    if actor is None or actor.role is not Role.unit or actor.unit_id is None:
        raise ApiError(403, "WrongActor", "只有单位账号有待办队列")
    unit = actor.unit_id
    now = datetime.now(UTC)
    items: list[QueueItem] = []

    def left(due: datetime | None) -> int | None:
        return int((_aware(due) - now).total_seconds()) if due else None

    held = session.exec(select(CaseRow).where(CaseRow.holder == unit, CaseRow.status != Status.closed)).all()
    for r in held:
        todo = TODO.get(Status(r.status))
        if todo:
            items.append(
                QueueItem(
                    case_id=r.case_id,
                    title=r.title,
                    status=r.status,
                    todo=todo,
                    due_at=r.next_deadline,
                    seconds_left=left(r.next_deadline),
                )
            )
    for r in session.exec(select(CaseRow).where(CaseRow.awaiting == unit)).all():
        items.append(
            QueueItem(
                case_id=r.case_id, title=r.title, status=r.status, todo="审批退单/延期", due_at=None, seconds_left=None
            )
        )
    items.extend(_whistles_to_report(session, unit))
    items.sort(key=lambda i: (i.seconds_left is None, i.seconds_left or 0))
    return Queue(unit_id=unit, data=items, count=len(items))


def _whistles_to_report(session: SessionDep, unit: str) -> list[QueueItem]:
    """Whistles that summoned the unit and are not over: 报到 if it has not reported, else 协同办理."""
    summons = session.exec(select(EventRow).where(EventRow.kind == EventKind.whistle.value)).all()
    out = []
    for s in summons:
        if unit not in s.data.get("departments", "").split(","):
            continue
        n = s.data.get("n", "")
        later = session.exec(select(EventRow).where(EventRow.case_id == s.case_id, col(EventRow.seq) > s.seq)).all()
        mine = [e for e in later if e.data.get("whistle") == n]
        if any(e.kind == EventKind.whistle_closed.value for e in mine):
            continue
        reported = any(e.kind == EventKind.report.value and e.unit_id == unit for e in mine)
        released = any(e.kind == EventKind.release.value and e.unit_id == unit for e in mine)
        if released:
            continue
        row = session.get(CaseRow, s.case_id)
        out.append(
            QueueItem(
                case_id=s.case_id,
                title=row.title if row else "",
                status="whistled",
                todo="协同办理（事不完、人不撤）" if reported else "报到",
                due_at=None,
                seconds_left=None,
                whistle=int(n) if n.isdigit() else None,
            )
        )
    return out


def _aware(at: datetime) -> datetime:
    # SQLite hands datetimes back naive; they were stored in UTC.
    return at if at.tzinfo else at.replace(tzinfo=UTC)


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
    policy = parts.policy
    cat = policy.category(category)
    if cat is None:
        raise ApiError(422, "InvalidInput", f"category：未知的诉求类别：{category}")
    start = at or datetime.now(UTC)
    cls = urgency or cat.urgency
    limits = policy.limits[cls]
    cal = calendar_for(policy.calendar)
    wanted: list[tuple[str, str, Limit]] = [
        ("dispatch", "派单时限", limits.dispatch),
        ("sign", DEADLINE_LABEL[DeadlineKind.sign], limits.sign),
        ("reply", DEADLINE_LABEL[DeadlineKind.reply], cat.reply_limit or limits.reply),
    ]
    wanted += [(f"tier:{t.value}", f"{t.value}本级时限", lim) for t, lim in limits.tier_slices.items()]
    return DeadlinePreview(
        category=category,
        urgency=cls,
        start=start,
        deadlines=[
            PreviewDeadline(kind=k, label=label, limit=str(lim), due_at=cal.add(start, lim)) for k, label, lim in wanted
        ],
    )
