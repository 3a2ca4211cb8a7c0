"""Statistics per unit and period (三率 and the rest), computed from the SQL read model only.

Every figure counts events of `case_events` whose `at` lies in [date_from, date_to):

- 响应率 response_rate = `sign` events met in time ÷ `dispatch` events (one per arrival of a case at the unit)
- 解决率 resolution_rate = rated `rate` events with solved "true" ÷ rated (level "unrated" is not a rating)
- 满意率 satisfaction_rate = (非常满意 + 满意 + 基本满意) ÷ rated; satisfaction_score = mean RATING_SCORE over rated
- 按时办结率 on_time_rate = `reply` events met in time ÷ `reply` events
- 超期 overdue_count = `overdue` events (by deadline kind in overdue_by_kind)
- 重办率 reopen_rate = `reopen` events ÷ `reply` events
- 吹哨率 whistle_rate = `whistle` events ÷ `sign` events (communities and streets only; null for other tiers)
- 报到率 report_rate = `report` events met in time ÷ times summoned (`whistle` events listing the department)
- the whistlers' 1–5 ratings: mean speed, cooperation and result over `rate_departments` entries for the unit

A rate is None when its denominator is 0: no data is never reported as 0. The raw counts come with every row,
so a reader can check each figure.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

from pydantic import BaseModel, Field
from sqlalchemy import ColumnElement
from sqlmodel import Session, col, func, select

from models.case import RATING_SCORE, UNSATISFIED, EventKind
from models.policy import Directory, Tier, Unit
from models.tables import CaseRow, EventRow

SATISFIED_LEVELS: frozenset[str] = frozenset(RATING_SCORE) - UNSATISFIED
WHISTLING_TIERS: frozenset[Tier] = frozenset({Tier.community, Tier.street})
COUNTED_KINDS: tuple[EventKind, ...] = (
    EventKind.dispatch,
    EventKind.sign,
    EventKind.reply,
    EventKind.reopen,
    EventKind.overdue,
    EventKind.escalate,
    EventKind.auto_escalate,
    EventKind.whistle,
    EventKind.report,
)


class StatsError(ValueError):
    """A request the statistics cannot answer; `field` names the input at fault, the message is for people."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field
        self.message = message


class Metric(StrEnum):
    """What a ranking may sort on; for all of them, higher is better."""

    satisfaction_score = "satisfaction_score"
    satisfaction_rate = "satisfaction_rate"
    response_rate = "response_rate"
    on_time_rate = "on_time_rate"
    resolution_rate = "resolution_rate"
    report_rate = "report_rate"


class WhistlerRating(BaseModel):
    """双考核: the whistling units' 1–5 ratings of a summoned department."""

    count: int = Field(description="rate_departments entries for this department")
    speed: float = Field(description="mean 速度")
    cooperation: float = Field(description="mean 配合")
    result: float = Field(description="mean 效果")


class UnitStats(BaseModel):
    unit_id: str
    name: str
    tier: Tier
    parent: str | None

    dispatched: int = Field(description="派单：dispatch events (arrivals of a case at the unit)")
    signed: int = Field(description="签收：sign events")
    signed_in_time: int = Field(description="sign events within the sign limit")
    replied: int = Field(description="办结：reply events")
    replied_on_time: int = Field(description="reply events within the reply limit")
    rated: int = Field(description="回访评价 with a level (未评价 excluded)")
    solved: int = Field(description="rated and the resident says solved")
    satisfied: int = Field(description="非常满意 + 满意 + 基本满意")
    ratings_by_level: dict[str, int] = Field(description="rated cases per level")
    unrated: int = Field(description="rating window passed without a rating")
    reopened: int = Field(description="重办：reopen events")
    overdue_count: int = Field(description="超期：overdue events")
    overdue_by_kind: dict[str, int] = Field(description="overdue events per deadline kind")
    escalated: int = Field(description="上报, by hand or automatically")
    auto_escalated: int = Field(description="超时自动上报")
    whistled: int = Field(description="吹哨：whistle events")
    summoned: int = Field(description="times the department was summoned by a whistle")
    reported: int = Field(description="报到：report events")
    reported_in_time: int = Field(description="report events within the report limit")

    response_rate: float | None = Field(description="响应率 = signed_in_time ÷ dispatched")
    resolution_rate: float | None = Field(description="解决率 = solved ÷ rated")
    satisfaction_rate: float | None = Field(description="满意率 = satisfied ÷ rated")
    satisfaction_score: float | None = Field(description="满意度得分 = mean of 100/80/60/20/0 over rated")
    on_time_rate: float | None = Field(description="按时办结率 = replied_on_time ÷ replied")
    reopen_rate: float | None = Field(description="重办率 = reopened ÷ replied")
    whistle_rate: float | None = Field(description="吹哨率 = whistled ÷ signed (communities and streets only)")
    report_rate: float | None = Field(description="报到率 = reported_in_time ÷ summoned")
    whistler_rating: WhistlerRating | None = Field(description="吹哨单位评价（速度/配合/效果）")

    def metric(self, metric: Metric) -> float | None:
        value: float | None = getattr(self, metric.value)
        return value


class RankedUnit(BaseModel):
    rank: int
    unit_id: str
    name: str
    tier: Tier
    value: float
    basis: int = Field(description="the metric's denominator: the cases or summonses it is computed over")
    rated: int


METRIC_BASIS: dict[Metric, str] = {
    Metric.satisfaction_score: "rated",
    Metric.satisfaction_rate: "rated",
    Metric.resolution_rate: "rated",
    Metric.response_rate: "dispatched",
    Metric.on_time_rate: "replied",
    Metric.report_rate: "summoned",
}


@dataclass
class _Tally:
    counts: Counter[str] = field(default_factory=Counter)
    levels: Counter[str] = field(default_factory=Counter)
    overdue: Counter[str] = field(default_factory=Counter)
    score_sum: int = 0
    ratings: list[tuple[int, int, int]] = field(default_factory=list)


def as_utc(at: datetime | None) -> datetime | None:
    """A bound in UTC, as the read model stores it; its datetime columns take aware values (naive means UTC)."""
    if at is None:
        return None
    return at.astimezone(UTC) if at.tzinfo else at.replace(tzinfo=UTC)


def check_period(date_from: datetime | None, date_to: datetime | None) -> None:
    for name, at in (("date_from", date_from), ("date_to", date_to)):
        if at is not None and at.tzinfo is None:
            raise StatsError(name, f"{name}：时间须带时区，例如 2026-11-23T09:00:00+08:00")
    if date_from is not None and date_to is not None and date_to <= date_from:
        raise StatsError("date_to", "date_to：统计截止时间须晚于起始时间")


def _ratio(num: int, den: int) -> float | None:
    return num / den if den else None


def _parse_rating(value: Any) -> tuple[int, int, int] | None:
    parts = str(value).split("/")
    if len(parts) != 3 or not all(p.strip().isdigit() for p in parts):
        return None
    speed, cooperation, result = (int(p) for p in parts)
    return speed, cooperation, result


def unit_stats(
    session: Session,
    directory: Directory,
    *,
    date_from: datetime | None = None,
    date_to: datetime | None = None,
    tier: Tier | None = None,
    unit_id: str | None = None,
) -> list[UnitStats]:
    """One row per unit of the directory (optionally one tier, or one unit), units without data included."""
    check_period(date_from, date_to)
    units = [u for u in directory.units if (tier is None or u.tier is tier) and (unit_id in (None, u.id))]
    if not units:
        return []
    wanted = {u.id for u in units}
    tallies: defaultdict[str, _Tally] = defaultdict(_Tally)

    def window(*extra: ColumnElement[bool]) -> list[ColumnElement[bool]]:
        where: list[ColumnElement[bool]] = list(extra)
        start, end = as_utc(date_from), as_utc(date_to)
        if start is not None:
            where.append(col(EventRow.at) >= start)
        if end is not None:
            where.append(col(EventRow.at) < end)
        return where

    own = col(EventRow.unit_id).in_(wanted)

    # Plain counts: grouped in SQL by unit, kind and whether the event's deadline was met.
    counted = session.exec(
        select(EventRow.unit_id, EventRow.kind, EventRow.deadline_met, func.count())
        .where(*window(col(EventRow.kind).in_([k.value for k in COUNTED_KINDS]), own))
        .group_by(col(EventRow.unit_id), col(EventRow.kind), col(EventRow.deadline_met))
    ).all()
    for unit, kind, met, n in counted:
        if unit is not None:
            tallies[unit].counts[kind] += n
            if met is True:
                tallies[unit].counts[f"{kind}:met"] += n
    overdue = session.exec(
        select(EventRow.unit_id, EventRow.deadline_kind, func.count())
        .where(*window(col(EventRow.kind) == EventKind.overdue.value, own))
        .group_by(col(EventRow.unit_id), col(EventRow.deadline_kind))
    ).all()
    for unit, deadline_kind, n in overdue:
        if unit is not None:
            tallies[unit].overdue[deadline_kind or "unknown"] += n

    # Ratings: grouped in SQL by the level and solved the event carries. A 未评价 event names no unit: it is the
    # case's last replier's, which the case row keeps (the case closes on that very event).
    level = col(EventRow.data)["level"].as_string()
    solved = col(EventRow.data)["solved"].as_string()
    rater = func.coalesce(col(EventRow.unit_id), col(CaseRow.replied_by))
    rated = session.exec(
        select(rater, level, solved, func.count())
        .select_from(EventRow)
        .outerjoin(CaseRow, col(CaseRow.case_id) == col(EventRow.case_id))
        .where(*window(col(EventRow.kind) == EventKind.rate.value, rater.in_(wanted)))
        .group_by(rater, level, solved)
    ).all()
    for unit, lvl, is_solved, n in rated:
        if unit is None:
            continue
        t = tallies[unit]
        if lvl not in RATING_SCORE:
            t.counts["unrated"] += n
            continue
        t.levels[lvl] += n
        t.score_sum += RATING_SCORE[lvl] * n
        if is_solved == "true":
            t.counts["solved"] += n

    # Summonses: a whistle names its departments in one comma list.
    departments = col(EventRow.data)["departments"].as_string()
    summons = session.exec(
        select(departments, func.count())
        .where(*window(col(EventRow.kind) == EventKind.whistle.value))
        .group_by(departments)
    ).all()
    for listed, n in summons:
        for dept in {d.strip() for d in (listed or "").split(",") if d.strip()}:
            tallies[dept].counts["summoned"] += n

    # 双考核: each rate_departments event maps department → "speed/cooperation/result" (plus "whistle": n).
    for data in session.exec(
        select(EventRow.data).where(*window(col(EventRow.kind) == EventKind.rate_departments.value))
    ).all():
        for dept, value in (data or {}).items():
            parsed = _parse_rating(value) if dept != "whistle" else None
            if parsed is not None and dept in wanted:
                tallies[dept].ratings.append(parsed)

    return [_row(u, tallies[u.id]) for u in units]


def _row(u: Unit, t: _Tally) -> UnitStats:
    c = t.counts
    rated = sum(t.levels.values())
    satisfied = sum(n for lvl, n in t.levels.items() if lvl in SATISFIED_LEVELS)
    replied, signed = c[EventKind.reply.value], c[EventKind.sign.value]
    rating = None
    if t.ratings:
        n = len(t.ratings)
        rating = WhistlerRating(
            count=n,
            speed=sum(r[0] for r in t.ratings) / n,
            cooperation=sum(r[1] for r in t.ratings) / n,
            result=sum(r[2] for r in t.ratings) / n,
        )
    return UnitStats(
        unit_id=u.id,
        name=u.name,
        tier=u.tier,
        parent=u.parent,
        dispatched=c[EventKind.dispatch.value],
        signed=signed,
        signed_in_time=c[f"{EventKind.sign.value}:met"],
        replied=replied,
        replied_on_time=c[f"{EventKind.reply.value}:met"],
        rated=rated,
        solved=c["solved"],
        satisfied=satisfied,
        ratings_by_level={lvl: t.levels[lvl] for lvl in RATING_SCORE if t.levels[lvl]},
        unrated=c["unrated"],
        reopened=c[EventKind.reopen.value],
        overdue_count=c[EventKind.overdue.value],
        overdue_by_kind=dict(sorted(t.overdue.items())),
        escalated=c[EventKind.escalate.value] + c[EventKind.auto_escalate.value],
        auto_escalated=c[EventKind.auto_escalate.value],
        whistled=c[EventKind.whistle.value],
        summoned=c["summoned"],
        reported=c[EventKind.report.value],
        reported_in_time=c[f"{EventKind.report.value}:met"],
        response_rate=_ratio(c[f"{EventKind.sign.value}:met"], c[EventKind.dispatch.value]),
        resolution_rate=_ratio(c["solved"], rated),
        satisfaction_rate=_ratio(satisfied, rated),
        satisfaction_score=_ratio(t.score_sum, rated),
        on_time_rate=_ratio(c[f"{EventKind.reply.value}:met"], replied),
        reopen_rate=_ratio(c[EventKind.reopen.value], replied),
        whistle_rate=_ratio(c[EventKind.whistle.value], signed) if u.tier in WHISTLING_TIERS else None,
        report_rate=_ratio(c[f"{EventKind.report.value}:met"], c["summoned"]),
        whistler_rating=rating,
    )


def ranking(rows: Iterable[UnitStats], metric: Metric) -> list[RankedUnit]:
    """Units with the metric, best first; ties go to the unit with more rated cases, then to the lower unit id."""
    scored = [(r, v) for r in rows if (v := r.metric(metric)) is not None]
    scored.sort(key=lambda rv: (-rv[1], -rv[0].rated, rv[0].unit_id))
    basis = METRIC_BASIS[metric]
    return [
        RankedUnit(
            rank=i,
            unit_id=r.unit_id,
            name=r.name,
            tier=r.tier,
            value=v,
            basis=getattr(r, basis),
            rated=r.rated,
        )
        for i, (r, v) in enumerate(scored, start=1)
    ]
