"""Statistics per unit and period (三率 and the rest) and the ranking of units.

Thin on purpose: services.stats computes everything from the read model; this module checks who may read what.
"""

from __future__ import annotations

import re
from datetime import date, datetime, time, timedelta
from typing import Annotated, Any
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Query
from pydantic import BaseModel, Field, PlainValidator, TypeAdapter, ValidationError, WithJsonSchema

from api.deps import CurrentPrincipal, PartsDep, SessionDep, SupervisorDep
from api.errors import ApiError, not_found
from api.schemas import Timestamp
from models.errors import ErrorCode
from models.inputs import Role
from models.policy import Policy, Tier
from services import stats
from services.stats import Metric, RankedUnit, StatsError, UnitStats

router = APIRouter(prefix="/stats", tags=["stats"])

PLAIN_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_TIMESTAMP: TypeAdapter[datetime] = TypeAdapter(Timestamp)


def _day_or_time(value: Any) -> date | datetime:
    """A plain date is a calendar day; anything else must be a zoned time (a naive one is refused)."""
    if isinstance(value, str) and PLAIN_DATE.match(value):
        try:
            day = date.fromisoformat(value)
        except ValueError as err:
            raise ValueError("不是有效的日期") from err
        if not 2000 <= day.year < 2100:
            raise ValueError("日期须在2000年至2099年之间")
        return day
    try:
        return _TIMESTAMP.validate_python(value)
    except ValidationError as err:
        raise ValueError("须为日期（2026-11-01）或带时区的时间（2026-11-01T00:00:00+08:00）") from err


DayOrTime = Annotated[
    date | datetime,
    PlainValidator(_day_or_time),
    WithJsonSchema({"anyOf": [{"type": "string", "format": "date"}, {"type": "string", "format": "date-time"}]}),
]
DateFrom = Annotated[
    DayOrTime | None,
    Query(
        description="统计起始（含）：日期（本市日历日，例如 2026-11-01，自当日零点起）或带时区的时间"
        "（例如 2026-11-01T00:00:00+08:00）；默认不限"
    ),
]
DateTo = Annotated[
    DayOrTime | None,
    Query(description="统计截止：日期（含当日，例如 2026-11-30，至次日零点止）或带时区的时间（不含）；默认不限"),
]
TierQuery = Annotated[Tier | None, Query(description="只看某一层级：grid、community、street、department")]


class UnitStatsList(BaseModel):
    date_from: datetime | None
    date_to: datetime | None
    data: list[UnitStats]
    count: int


class Ranking(BaseModel):
    metric: Metric
    date_from: datetime | None
    date_to: datetime | None
    data: list[RankedUnit] = Field(description="units with the metric, best first")
    count: int


def _period(
    policy: Policy, date_from: date | datetime | None, date_to: date | datetime | None
) -> tuple[datetime | None, datetime | None]:
    """The period as instants: a plain date is the city's calendar day (the policy's time zone), `date_to`'s
    included."""
    zone = ZoneInfo(policy.calendar.timezone)

    def instant(value: date | datetime | None, days_after: int) -> datetime | None:
        if value is None or isinstance(value, datetime):
            return value
        return datetime.combine(value + timedelta(days=days_after), time(0), zone)

    start, end = instant(date_from, 0), instant(date_to, 1)
    try:
        stats.check_period(start, end)
    except StatsError as err:
        raise ApiError(422, ErrorCode.invalid_input, err.message) from err
    return start, end


@router.get(
    "/units",
    response_model=UnitStatsList,
    summary="各单位考评统计：响应率、解决率、满意率、按时办结率、超期、重办、吹哨、报到（督办）",
)
def list_unit_stats(
    _: SupervisorDep,
    session: SessionDep,
    parts: PartsDep,
    date_from: DateFrom = None,
    date_to: DateTo = None,
    tier: TierQuery = None,
) -> UnitStatsList:
    start, end = _period(parts.policy, date_from, date_to)
    rows = stats.unit_stats(session, parts.policy.directory, date_from=start, date_to=end, tier=tier)
    return UnitStatsList(date_from=start, date_to=end, data=rows, count=len(rows))


@router.get(
    "/units/{unit_id}",
    response_model=UnitStats,
    summary="单个单位的考评统计（督办看任一单位，单位只看本单位）",
)
def read_unit_stats(
    unit_id: str,
    principal: CurrentPrincipal,
    session: SessionDep,
    parts: PartsDep,
    date_from: DateFrom = None,
    date_to: DateTo = None,
) -> UnitStats:
    actor = principal.actor
    own = actor is not None and actor.role is Role.unit and actor.unit_id == unit_id
    if not (principal.is_supervisor or own):
        raise ApiError(403, ErrorCode.wrong_actor, "只有督办人员或本单位可以查看该单位的统计")
    start, end = _period(parts.policy, date_from, date_to)
    rows = stats.unit_stats(session, parts.policy.directory, date_from=start, date_to=end, unit_id=unit_id)
    if not rows:
        raise not_found("单位")
    return rows[0]


@router.get(
    "/ranking",
    response_model=Ranking,
    summary="单位排名：按所选指标从高到低（同分时评价数多者在前，再按单位编号）（督办）",
)
def read_ranking(
    _: SupervisorDep,
    session: SessionDep,
    parts: PartsDep,
    metric: Annotated[Metric, Query(description="排名指标")],
    tier: TierQuery = None,
    date_from: DateFrom = None,
    date_to: DateTo = None,
) -> Ranking:
    start, end = _period(parts.policy, date_from, date_to)
    rows = stats.unit_stats(session, parts.policy.directory, date_from=start, date_to=end, tier=tier)
    ranked = stats.ranking(rows, metric)
    return Ranking(metric=metric, date_from=start, date_to=end, data=ranked, count=len(ranked))
