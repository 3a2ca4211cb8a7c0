"""Statistics per unit and period (三率 and the rest) and the ranking of units.

Thin on purpose: services.stats computes everything from the read model; this module checks who may read what.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Query
from pydantic import BaseModel, Field

from api.deps import CurrentPrincipal, PartsDep, SessionDep, SupervisorDep
from api.errors import ApiError, not_found
from api.schemas import Timestamp
from models.case import Role
from models.policy import Tier
from services import stats
from services.stats import Metric, RankedUnit, StatsError, UnitStats

router = APIRouter(prefix="/stats", tags=["stats"])

DateFrom = Annotated[
    Timestamp | None, Query(description="统计起始时间（含），须带时区，例如 2026-11-01T00:00:00+08:00；默认不限")
]
DateTo = Annotated[Timestamp | None, Query(description="统计截止时间（不含），须带时区；默认不限")]
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


def _period(date_from: datetime | None, date_to: datetime | None) -> None:
    try:
        stats.check_period(date_from, date_to)
    except StatsError as err:
        raise ApiError(422, "InvalidInput", err.message) from err


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
    _period(date_from, date_to)
    rows = stats.unit_stats(session, parts.policy.directory, date_from=date_from, date_to=date_to, tier=tier)
    return UnitStatsList(date_from=date_from, date_to=date_to, data=rows, count=len(rows))


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
        raise ApiError(403, "WrongActor", "只有督办人员或本单位可以查看该单位的统计")
    _period(date_from, date_to)
    rows = stats.unit_stats(session, parts.policy.directory, date_from=date_from, date_to=date_to, unit_id=unit_id)
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
    _period(date_from, date_to)
    rows = stats.unit_stats(session, parts.policy.directory, date_from=date_from, date_to=date_to, tier=tier)
    ranked = stats.ranking(rows, metric)
    return Ranking(metric=metric, date_from=date_from, date_to=date_to, data=ranked, count=len(ranked))
