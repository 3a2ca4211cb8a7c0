"""services/stats.py on a hand-made read model: each figure counts cases once, by its final record."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest
from sqlmodel import Session

from models.policy import Directory, Tier, Unit
from models.tables import CaseRow, EventRow, WhistleDepartmentRow
from models.timeline import EventKind
from services import stats
from store.db import engine_for

SEQ = itertools.count(1)
T0 = datetime(2025, 11, 3, 2, 0, tzinfo=UTC)  # 10:00 in Beijing
DIRECTORY = Directory(
    district=Unit(id="district", name="区", tier=Tier.district),
    supervisor=Unit(id="sup", name="督查室", tier=Tier.district, parent="district"),
    units=(
        Unit(id="street-x", name="街道", tier=Tier.street, parent="district"),
        Unit(id="grid-x", name="网格", tier=Tier.grid, parent="street-x"),
        Unit(id="grid-y", name="网格二", tier=Tier.grid, parent="street-x"),
        Unit(id="dept-x", name="部门", tier=Tier.department, parent="district"),
    ),
)


@pytest.fixture
def session(database_url: str) -> Any:
    with Session(engine_for(database_url)) as s:
        yield s


def add(
    s: Session,
    case: str,
    minutes: int,
    kind: EventKind,
    unit: str | None,
    *,
    met: bool | None = None,
    deadline: str | None = None,
    **data: str,
) -> None:
    s.add(
        EventRow(
            case_id=case,
            seq=next(SEQ),
            at=T0 + timedelta(minutes=minutes),
            kind=kind.value,
            actor="t",
            unit_id=unit,
            text="",
            data=data,
            deadline_kind=deadline or (kind.value if met is not None else None),
            deadline_met=met,
        )
    )


def closed_case(
    s: Session, case: str, grid: str, minutes: int, replied_by: str, outcome: str, rating: str | None = None
) -> None:
    s.add(
        CaseRow(
            case_id=case,
            channel="app",
            channel_ticket_id=case,
            category="x",
            title=case,
            grid_id=grid,
            status="closed",
            reported_at=T0,
            replied_by=replied_by,
            rating=rating,
            solved=rating is not None,
            outcome=outcome,
            closed_at=T0 + timedelta(minutes=minutes),
        )
    )


def test_service_counts_cases_once_rates_ties_and_window(session: Session) -> None:
    s = session
    # Case a: late sign, late reply, 不满意 → 重办 → signed and replied in time, 满意: one case, its final rating.
    add(s, "a", 0, EventKind.dispatch, "grid-x")
    add(s, "a", 1, EventKind.sign, "grid-x", met=False)
    add(s, "a", 2, EventKind.overdue, "grid-x", deadline="sign")
    add(s, "a", 3, EventKind.reply, "grid-x", met=False)
    add(s, "a", 4, EventKind.overdue, "grid-x", deadline="reply")
    add(s, "a", 5, EventKind.rate, "grid-x", level="unsatisfied", solved="false")
    add(s, "a", 6, EventKind.reopen, "grid-x")
    add(s, "a", 7, EventKind.dispatch, "grid-x")
    add(s, "a", 8, EventKind.sign, "grid-x", met=True)
    add(s, "a", 9, EventKind.reply, "grid-x", met=True)
    add(s, "a", 10, EventKind.rate, "grid-x", level="satisfied", solved="true")
    closed_case(s, "a", "grid-x", 10, "grid-x", "rated", "satisfied")
    # Case b: the resident never rates: 未评价, outside the 满意率, nobody's miss.
    add(s, "b", 0, EventKind.dispatch, "grid-y")
    add(s, "b", 1, EventKind.sign, "grid-y", met=True)
    add(s, "b", 2, EventKind.reply, "grid-y", met=True)
    add(s, "b", 3, EventKind.rate, "grid-y", level="unrated")
    closed_case(s, "b", "grid-y", 3, "grid-y", "unrated")
    # Case c: the street whistles a department that reports late.
    add(s, "c", 0, EventKind.dispatch, "street-x")
    add(s, "c", 1, EventKind.sign, "street-x", met=True)
    add(s, "c", 2, EventKind.whistle, "street-x", n="1", departments="dept-x")
    add(s, "c", 3, EventKind.overdue, "dept-x", deadline="report")
    add(s, "c", 4, EventKind.report, "dept-x", met=False, whistle="1")
    add(s, "c", 5, EventKind.rate_departments, "street-x", whistle="1", **{"dept-x": "2/1/3"})  # type: ignore[arg-type]
    add(s, "c", 6, EventKind.reply, "street-x", met=True)
    add(s, "c", 7, EventKind.rate, "street-x", level="very_satisfied", solved="true")
    closed_case(s, "c", "street-x", 7, "street-x", "rated", "very_satisfied")
    s.add(
        WhistleDepartmentRow(
            case_id="c",
            n=1,
            unit_id="dept-x",
            kind="ordinary",
            whistler="street-x",
            summoned_at=T0 + timedelta(minutes=2),
            rated_at=T0 + timedelta(minutes=5),
            speed=2,
            cooperation=1,
            result=3,
        )
    )
    # Outside the window below: an arrival, and a case closed later.
    add(s, "d", 120, EventKind.dispatch, "grid-x")
    closed_case(s, "e", "grid-x", 200, "grid-x", "rated", "very_unsatisfied")
    s.commit()

    beijing = timezone(timedelta(hours=8))  # any zone: the service compares in UTC
    rows = {
        r.unit_id: r
        for r in stats.unit_stats(s, DIRECTORY, date_from=T0.astimezone(beijing), date_to=T0 + timedelta(minutes=60))
    }
    assert set(rows) == {"street-x", "grid-x", "grid-y", "dept-x"}
    gx, gy, st, dx = rows["grid-x"], rows["grid-y"], rows["street-x"], rows["dept-x"]
    assert (gx.dispatched, gx.signed, gx.signed_in_time, gx.response_rate) == (2, 2, 1, 0.5)
    assert (gx.replied, gx.replied_on_time, gx.on_time_rate) == (1, 0, 0.0), "one case, one of its replies late"
    assert (gx.reopened, gx.reopen_rate, gx.reply_events, gx.rating_events) == (1, 1.0, 2, 2)
    assert (gx.rated, gx.satisfaction_rate, gx.satisfaction_score, gx.resolution_rate) == (1, 1.0, 80.0, 1.0)
    assert (gx.overdue_count, gx.misses_by_kind, gx.whistle_rate) == (1, {"reply": 1, "sign": 1}, None)
    assert (gy.rated, gy.unrated, gy.satisfaction_score, gy.resolution_rate, gy.overdue_count) == (0, 1, None, None, 0)
    assert (st.whistled, st.signed, st.whistle_rate, st.satisfaction_score) == (1, 1, 1.0, 100.0)
    assert (dx.summoned, dx.reported, dx.reported_in_time, dx.report_rate, dx.overdue_count) == (1, 1, 0, 0.0, 1)
    assert dx.whistler_rating is not None and (dx.whistler_rating.speed, dx.whistler_rating.result) == (2.0, 3.0)
    assert dx.response_rate is None and dx.on_time_rate is None  # no data is null, never 0

    # 响应率: grid-y 1.0 and street-x 1.0 tie; street-x has the rated case. grid-x 0.5 still ranks.
    ranked = stats.ranking(rows.values(), stats.Metric.response_rate)
    assert [(u.rank, u.unit_id, u.value, u.basis) for u in ranked] == [
        (1, "street-x", 1.0, 1),
        (2, "grid-y", 1.0, 1),
        (3, "grid-x", 0.5, 2),
    ]
    assert [u.unit_id for u in stats.ranking(rows.values(), stats.Metric.satisfaction_score)] == ["street-x", "grid-x"]

    everything = stats.unit_stats(s, DIRECTORY, unit_id="grid-x")
    assert [(r.dispatched, r.rated, r.satisfaction_score) for r in everything] == [(3, 2, 40.0)]
    assert stats.unit_stats(s, DIRECTORY, tier=Tier.department)[0].unit_id == "dept-x"
    assert stats.unit_stats(s, DIRECTORY, unit_id="nowhere") == []
    with pytest.raises(stats.StatsError) as err:
        stats.unit_stats(s, DIRECTORY, date_from=datetime(2025, 11, 3))
    assert err.value.field == "date_from"


def test_without_a_period_only_closed_cases_count_by_their_rating(session: Session) -> None:
    """A case rated 非常不满意 and reopened (重办) is still open: its rating is not final, with or without dates."""
    s = session
    add(s, "r", 0, EventKind.dispatch, "grid-x")
    add(s, "r", 1, EventKind.sign, "grid-x", met=True)
    add(s, "r", 2, EventKind.reply, "grid-x", met=True)
    add(s, "r", 3, EventKind.rate, "grid-x", level="very_unsatisfied", solved="false")
    add(s, "r", 4, EventKind.reopen, "grid-x")
    add(s, "r", 5, EventKind.dispatch, "grid-x")
    # The read model's row of a reopened case keeps the superseded rating until the case is struck off.
    s.add(
        CaseRow(
            case_id="r",
            channel="app",
            channel_ticket_id="r",
            category="x",
            title="r",
            grid_id="grid-x",
            status="dispatched",
            reported_at=T0,
            replied_by="grid-x",
            rating="very_unsatisfied",
            solved=False,
            reopen_count=1,
        )
    )
    s.commit()

    for start, end in ((None, None), (T0, T0 + timedelta(days=1))):
        (gx,) = stats.unit_stats(s, DIRECTORY, unit_id="grid-x", date_from=start, date_to=end)
        assert (gx.rated, gx.ratings_by_level, gx.solved) == (0, {}, 0), start
        assert (gx.satisfaction_rate, gx.satisfaction_score, gx.resolution_rate) == (None, None, None), start
        assert (gx.replied, gx.reopened, gx.rating_events) == (1, 1, 1), start
        rows = stats.unit_stats(s, DIRECTORY, date_from=start, date_to=end)
        assert stats.ranking(rows, stats.Metric.satisfaction_score) == [], start


def summons(s: Session, case: str, unit: str, *, due: int, reported: int | None = None) -> None:
    s.add(
        WhistleDepartmentRow(
            case_id=case,
            n=1,
            unit_id=unit,
            kind="ordinary",
            whistler="street-x",
            summoned_at=T0,
            report_due=T0 + timedelta(minutes=due),
            checked_in_at=T0 + timedelta(minutes=reported) if reported is not None else None,
            report_in_time=reported <= due if reported is not None else None,
            closed=True,
        )
    )


def test_a_limit_not_yet_met_or_missed_counts_neither_way(session: Session) -> None:
    """响应率 and 报到率 count the limits that were met or missed: an arrival still within its sign limit, or one the
    case left before it was due (撤回, 合并, 不予受理, an approved 退单), is no failure to respond; nor a summons."""
    s = session
    # Withdrawn 10 minutes after the whistle, the report due at 30: the department owed nothing yet.
    closed_case(s, "early", "grid-x", 10, "street-x", "withdrawn")
    summons(s, "early", "dept-x", due=30)
    # Merged at 60, the report due at 30 and never made: a missed 报到, which the whistle recorded at 30.
    closed_case(s, "late", "grid-x", 60, "street-x", "merged")
    summons(s, "late", "dept-x", due=30)
    add(s, "late", 30, EventKind.overdue, "dept-x", deadline="report")
    # Reported in time at 5, then withdrawn at 10: a 报到 in time.
    closed_case(s, "done", "grid-x", 10, "street-x", "withdrawn")
    summons(s, "done", "dept-x", due=30, reported=5)
    add(s, "done", 5, EventKind.report, "dept-x", met=True, whistle="1")
    # Arrivals at grid-y: one withdrawn a minute later, one still within its sign limit, one signed in time.
    for case in ("gone", "waiting", "signed"):
        add(s, case, 0, EventKind.dispatch, "grid-y")
    add(s, "signed", 3, EventKind.sign, "grid-y", met=True)
    s.commit()

    for start, end in ((None, None), (T0, T0 + timedelta(days=1))):
        rows = {r.unit_id: r for r in stats.unit_stats(s, DIRECTORY, date_from=start, date_to=end)}
        dx, gy = rows["dept-x"], rows["grid-y"]
        assert (dx.summoned, dx.summonses_decided, dx.reported_in_time, dx.report_rate) == (3, 2, 1, 0.5), start
        assert (gy.dispatched, gy.arrivals_decided, gy.signed_in_time, gy.response_rate) == (3, 1, 1, 1.0), start
    ranked = stats.ranking(stats.unit_stats(s, DIRECTORY), stats.Metric.report_rate)
    assert [(u.unit_id, u.value, u.basis) for u in ranked] == [("dept-x", 0.5, 2)]


def test_the_whistle_rate_is_over_the_cases_handled_in_the_period_and_never_above_one(session: Session) -> None:
    """吹哨率: cases whistled ÷ cases the street handled in the period, a case signed before it and whistled in it
    among them; a street that whistles two cases signed last period and signs one is not at 200%."""
    s = session
    for case in ("p", "q"):
        add(s, case, -120, EventKind.sign, "street-x", met=True)
        add(s, case, 10, EventKind.whistle, "street-x", n="1", departments="dept-x")
    add(s, "r", 20, EventKind.sign, "street-x", met=True)
    add(s, "r", 25, EventKind.whistle, "street-x", n="1", departments="dept-x")
    add(s, "s", 30, EventKind.sign, "street-x", met=True)
    s.commit()

    [st] = stats.unit_stats(s, DIRECTORY, unit_id="street-x", date_from=T0, date_to=T0 + timedelta(hours=1))
    assert (st.whistled, st.handled, st.whistle_rate) == (3, 4, 0.75)
    [everything] = stats.unit_stats(s, DIRECTORY, unit_id="street-x")
    assert (everything.whistled, everything.handled, everything.whistle_rate) == (3, 4, 0.75)
