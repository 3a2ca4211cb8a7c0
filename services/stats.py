"""Statistics per unit and period (三率 and the rest), computed from the SQL read model only.

Figures count cases, not events (DOMAIN.md, "Who is charged, and how figures count"). In the period
[date_from, date_to):

- 响应率 response_rate = arrivals signed within the sign limit ÷ arrivals whose sign limit was met or missed (each
  arrival of a case at the unit counts once, a case sent back for 重办 arriving again; one still within its limit,
  or one the case left before it was due (撤回, 合并, 不予受理, an approved 退单), is no failure to respond). A
  limit is decided where its event falls: the sign in time, or the 超期 the case recorded when it was missed
- 解决率 resolution_rate = cases the resident says are solved ÷ rated cases, 满意率 satisfaction_rate =
  (非常满意 + 满意 + 基本满意) ÷ rated cases, satisfaction_score = mean of 100/80/60/20/0: over the cases whose
  final record (销号) falls in the period (with no period: every case struck off; an open case, a reopened one
  included, has no final rating), each once by its final rating, charged to the unit that replied last; a case
  closed 未评价 is outside the denominator
- 按时办结率 on_time_rate = cases the unit replied to on time (none of its replies in the period late) ÷ cases it
  replied to
- 超期 overdue_count = cases with a miss charged to the unit; misses_by_kind counts the misses per deadline kind
- 重办率 reopen_rate = cases reopened back to the unit ÷ cases it replied to
- 吹哨率 whistle_rate = cases the unit whistled ÷ cases it handled: signed or whistled on in the period, so a case
  signed in an earlier period and whistled in this one counts in both terms (communities and streets only; null
  otherwise)
- 报到率 report_rate = summonses reported within the report limit ÷ summonses whose report limit was met or
  missed (each whistle once; one whose case ended before its report was due owed none)
- the whistlers' 1–5 ratings: mean speed, cooperation and result over the ratings given in the period

Per-event figures a supervisor may still want keep their own names: `reply_events` (every reply, 重办 included)
and `rating_events` (every rating given, the ones a reopen superseded included).

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

from models.inputs import RATING_SCORE, UNSATISFIED
from models.policy import Directory, Tier, Unit
from models.tables import CaseRow, EventRow, WhistleDepartmentRow
from models.timeline import DeadlineKind, EventKind

SATISFIED_LEVELS: frozenset[str] = frozenset(RATING_SCORE) - UNSATISFIED
WHISTLING_TIERS: frozenset[Tier] = frozenset({Tier.community, Tier.street})
EVENT_COUNTED: tuple[EventKind, ...] = (EventKind.dispatch, EventKind.sign, EventKind.escalate, EventKind.auto_escalate)
"""Counted per event: each arrival, each sign, each 上报 is one."""
CASE_COUNTED: tuple[EventKind, ...] = (
    EventKind.sign,
    EventKind.reply,
    EventKind.reopen,
    EventKind.overdue,
    EventKind.whistle,
)
"""Counted per case: a case replied to twice (重办) was replied to once."""


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

    dispatched: int = Field(description="派单：arrivals of a case at the unit (dispatch events)")
    arrivals_decided: int = Field(description="arrivals whose sign limit was met (signed in time) or missed")
    signed: int = Field(description="签收：sign events")
    signed_in_time: int = Field(description="sign events within the sign limit")
    replied: int = Field(description="办结：cases the unit replied to")
    replied_on_time: int = Field(description="cases the unit replied to with none of its replies late")
    rated: int = Field(description="cases closed with a rating (the final one), charged to the last replier")
    solved: int = Field(description="rated cases the resident says are solved")
    satisfied: int = Field(description="rated cases 非常满意 + 满意 + 基本满意")
    ratings_by_level: dict[str, int] = Field(description="rated cases per final level")
    unrated: int = Field(description="cases closed 未评价 (the window passed): outside the 满意率")
    reopened: int = Field(description="重办：cases reopened back to the unit")
    overdue_count: int = Field(description="超期：cases with a miss charged to the unit")
    misses_by_kind: dict[str, int] = Field(description="misses (overdue events) per deadline kind")
    escalated: int = Field(description="上报, by hand or automatically")
    auto_escalated: int = Field(description="超时自动上报")
    whistled: int = Field(description="吹哨：cases the unit whistled on")
    handled: int = Field(description="cases the unit signed or whistled on: 吹哨率's denominator")
    summoned: int = Field(description="times the department was summoned by a whistle")
    summonses_decided: int = Field(description="summonses whose report limit was met (reported in time) or missed")
    reported: int = Field(description="报到：report events")
    reported_in_time: int = Field(description="report events within the report limit")
    reply_events: int = Field(description="every reply, 重办 included (per event)")
    rating_events: int = Field(description="every rating given to the unit's replies, superseded ones included")

    response_rate: float | None = Field(description="响应率 = signed_in_time ÷ arrivals_decided")
    resolution_rate: float | None = Field(description="解决率 = solved ÷ rated")
    satisfaction_rate: float | None = Field(description="满意率 = satisfied ÷ rated")
    satisfaction_score: float | None = Field(description="满意度得分 = mean of 100/80/60/20/0 over rated")
    on_time_rate: float | None = Field(description="按时办结率 = replied_on_time ÷ replied")
    reopen_rate: float | None = Field(description="重办率 = reopened ÷ replied")
    whistle_rate: float | None = Field(description="吹哨率 = whistled ÷ handled (communities and streets only)")
    report_rate: float | None = Field(description="报到率 = reported_in_time ÷ summonses_decided")
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
    Metric.response_rate: "arrivals_decided",
    Metric.on_time_rate: "replied",
    Metric.report_rate: "summonses_decided",
}


@dataclass
class _Tally:
    events: Counter[str] = field(default_factory=Counter)
    cases: Counter[str] = field(default_factory=Counter)
    levels: Counter[str] = field(default_factory=Counter)
    misses: Counter[str] = field(default_factory=Counter)
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
    start, end = as_utc(date_from), as_utc(date_to)

    def of(unit_id: str | None) -> _Tally:
        # Rows name a unit (the queries keep to the wanted ones); "" only satisfies the type.
        return tallies[unit_id or ""]

    def window(at: Any, *extra: ColumnElement[bool]) -> list[ColumnElement[bool]]:
        where: list[ColumnElement[bool]] = list(extra)
        if start is not None:
            where.append(col(at) >= start)
        if end is not None:
            where.append(col(at) < end)
        return where

    own = col(EventRow.unit_id).in_(wanted)
    kind, unit, met, case = col(EventRow.kind), col(EventRow.unit_id), col(EventRow.deadline_met), col(EventRow.case_id)

    for u, k, m, n in session.exec(
        select(unit, kind, met, func.count())
        .where(
            *window(EventRow.at, kind.in_([k.value for k in (*EVENT_COUNTED, EventKind.reply, EventKind.report)]), own)
        )
        .group_by(unit, kind, met)
    ).all():
        of(u).events[k] += n
        if m is True:
            of(u).events[f"{k}:met"] += n

    for u, k, n in session.exec(
        select(unit, kind, func.count(func.distinct(case)))
        .where(*window(EventRow.at, kind.in_([k.value for k in CASE_COUNTED]), own))
        .group_by(unit, kind)
    ).all():
        of(u).cases[k] += n
    for u, n in session.exec(
        select(unit, func.count(func.distinct(case)))
        .where(*window(EventRow.at, kind.in_([EventKind.sign.value, EventKind.whistle.value]), own))
        .group_by(unit)
    ).all():
        of(u).cases["handled"] += n
    # A case replied to on time: none of the unit's replies in the period was late.
    for u, n in session.exec(
        select(unit, func.count(func.distinct(case)))
        .where(*window(EventRow.at, kind == EventKind.reply.value, met == False, own))  # noqa: E712
        .group_by(unit)
    ).all():
        of(u).cases["reply:late"] += n
    for u, deadline_kind, n in session.exec(
        select(unit, EventRow.deadline_kind, func.count())
        .where(*window(EventRow.at, kind == EventKind.overdue.value, own))
        .group_by(unit, col(EventRow.deadline_kind))
    ).all():
        of(u).misses[deadline_kind or "unknown"] += n

    # Every rating given (per event), unrated lapses apart: the rate event names the unit that replied.
    level = col(EventRow.data)["level"].as_string()
    for u, lvl, n in session.exec(
        select(unit, level, func.count())
        .where(*window(EventRow.at, kind == EventKind.rate.value, own))
        .group_by(unit, level)
    ).all():
        if lvl in RATING_SCORE:
            of(u).events["rating"] += n

    # Final ratings: each case once, as its record (销号) stands, charged to the unit that replied last. Only a
    # struck-off case has a final rating: a reopened one still carries the rating its 重办 superseded.
    replier = col(CaseRow.replied_by)
    final = window(CaseRow.closed_at, replier.in_(wanted), col(CaseRow.closed_at).is_not(None))
    for u, lvl, outcome, n in session.exec(
        select(replier, col(CaseRow.rating), col(CaseRow.outcome), func.count())
        .where(*final)
        .group_by(replier, col(CaseRow.rating), col(CaseRow.outcome))
    ).all():
        t = of(u)
        if outcome == "unrated":
            t.cases["unrated"] += n
        elif lvl in RATING_SCORE:
            t.levels[lvl] += n
            t.score_sum += RATING_SCORE[lvl] * n
    rated_final = col(CaseRow.rating).in_(list(RATING_SCORE))
    for u, n in session.exec(
        select(replier, func.count()).where(*final, rated_final, col(CaseRow.solved) == True).group_by(replier)  # noqa: E712
    ).all():
        of(u).cases["solved"] += n

    # Summonses and 双考核, from the departments each whistle summoned.
    summoned_unit = col(WhistleDepartmentRow.unit_id)
    for u, n in session.exec(
        select(summoned_unit, func.count())
        .where(*window(WhistleDepartmentRow.summoned_at, summoned_unit.in_(wanted)))
        .group_by(summoned_unit)
    ).all():
        of(u).cases["summoned"] += n
    for u, speed, cooperation, result in session.exec(
        select(
            summoned_unit, WhistleDepartmentRow.speed, WhistleDepartmentRow.cooperation, WhistleDepartmentRow.result
        ).where(*window(WhistleDepartmentRow.rated_at, summoned_unit.in_(wanted)))
    ).all():
        if speed is not None and cooperation is not None and result is not None:
            of(u).ratings.append((speed, cooperation, result))

    return [_row(u, tallies[u.id]) for u in units]


def _row(u: Unit, t: _Tally) -> UnitStats:
    e, c = t.events, t.cases
    rated = sum(t.levels.values())
    satisfied = sum(n for lvl, n in t.levels.items() if lvl in SATISFIED_LEVELS)
    replied = c[EventKind.reply.value]
    on_time = replied - c["reply:late"]
    signed_in_time, reported_in_time = e[f"{EventKind.sign.value}:met"], e[f"{EventKind.report.value}:met"]
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
        dispatched=e[EventKind.dispatch.value],
        arrivals_decided=signed_in_time + t.misses[DeadlineKind.sign.value],
        signed=e[EventKind.sign.value],
        signed_in_time=signed_in_time,
        replied=replied,
        replied_on_time=on_time,
        rated=rated,
        solved=c["solved"],
        satisfied=satisfied,
        ratings_by_level={lvl: t.levels[lvl] for lvl in RATING_SCORE if t.levels[lvl]},
        unrated=c["unrated"],
        reopened=c[EventKind.reopen.value],
        overdue_count=c[EventKind.overdue.value],
        misses_by_kind=dict(sorted(t.misses.items())),
        escalated=e[EventKind.escalate.value] + e[EventKind.auto_escalate.value],
        auto_escalated=e[EventKind.auto_escalate.value],
        whistled=c[EventKind.whistle.value],
        handled=c["handled"],
        summoned=c["summoned"],
        summonses_decided=reported_in_time + t.misses[DeadlineKind.report.value],
        reported=e[EventKind.report.value],
        reported_in_time=reported_in_time,
        reply_events=e[EventKind.reply.value],
        rating_events=e["rating"],
        response_rate=_ratio(signed_in_time, signed_in_time + t.misses[DeadlineKind.sign.value]),
        resolution_rate=_ratio(c["solved"], rated),
        satisfaction_rate=_ratio(satisfied, rated),
        satisfaction_score=_ratio(t.score_sum, rated),
        on_time_rate=_ratio(on_time, replied),
        reopen_rate=_ratio(c[EventKind.reopen.value], replied),
        whistle_rate=_ratio(c[EventKind.whistle.value], c["handled"]) if u.tier in WHISTLING_TIERS else None,
        report_rate=_ratio(reported_in_time, reported_in_time + t.misses[DeadlineKind.report.value]),
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
