"""Statistics per unit and period (三率 and the rest), charts and a ranking, exported as CSV or Excel.

Every figure comes from `services.stats` (the API's own statistics); this module only lays them out.
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Any

from fastapi import APIRouter, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import HTMLResponse, Response
from openpyxl import Workbook
from openpyxl.styles import Font

from api.deps import PartsDep, SessionDep
from console import web
from console.web import PREFIX, CurrentUser
from models.inputs import Role
from models.policy import Tier
from models.timeline import TIER_LABEL
from services import stats
from services.stats import Metric, RankedUnit, StatsError, UnitStats

router = APIRouter(prefix=f"{PREFIX}/stats", include_in_schema=False)

METRIC_LABEL = {
    Metric.satisfaction_score: "满意度得分",
    Metric.satisfaction_rate: "满意率",
    Metric.response_rate: "响应率",
    Metric.on_time_rate: "按时办结率",
    Metric.resolution_rate: "解决率",
    Metric.report_rate: "报到率",
}
# (column, label, kind): kind "rate" is a share, "count" a number of cases or events, "score" a mean.
COLUMNS: tuple[tuple[str, str, str], ...] = (
    ("dispatched", "派单", "count"),
    ("arrivals_decided", "应签收", "count"),
    ("signed_in_time", "按时签收", "count"),
    ("response_rate", "响应率", "rate"),
    ("replied", "办结", "count"),
    ("on_time_rate", "按时办结率", "rate"),
    ("rated", "评价", "count"),
    ("resolution_rate", "解决率", "rate"),
    ("satisfaction_rate", "满意率", "rate"),
    ("satisfaction_score", "满意度得分", "score"),
    ("overdue_count", "超期", "count"),
    ("reopen_rate", "重办率", "rate"),
    ("whistle_rate", "吹哨率", "rate"),
    ("summoned", "被召集", "count"),
    ("summonses_decided", "应报到", "count"),
    ("report_rate", "报到率", "rate"),
)
CHARTED = ("response_rate", "on_time_rate", "satisfaction_rate", "resolution_rate", "report_rate")


@dataclass(frozen=True)
class Period:
    first: date
    last: date
    """Both days included, in the city's own time."""

    @property
    def bounds(self) -> tuple[datetime, datetime]:
        start = datetime.combine(self.first, time(0), web.ZONE)
        return start, datetime.combine(self.last + timedelta(days=1), time(0), web.ZONE)

    @property
    def label(self) -> str:
        return f"{self.first:%Y-%m-%d} 至 {self.last:%Y-%m-%d}"


def period_of(date_from: str, date_to: str) -> Period:
    today = datetime.now(web.ZONE).date()
    try:
        first = date.fromisoformat(date_from) if date_from else today.replace(day=1)
        last = date.fromisoformat(date_to) if date_to else today
    except ValueError as err:
        raise StatsError("date_from", "日期格式应为 YYYY-MM-DD") from err
    if last < first:
        raise StatsError("date_to", "截止日期不能早于起始日期")
    return Period(first, last)


def figures(
    session: SessionDep, parts: PartsDep, period: Period, tier: Tier | None, metric: Metric
) -> tuple[list[UnitStats], list[RankedUnit]]:
    start, end = period.bounds
    rows = stats.unit_stats(session, parts.policy.directory, date_from=start, date_to=end, tier=tier)
    return rows, stats.ranking(rows, metric)


def has_data(row: UnitStats) -> bool:
    return any((row.dispatched, row.summoned, row.rated, row.unrated, row.replied, row.overdue_count, row.whistled))


def chart_options(rows: list[UnitStats], ranked: list[RankedUnit], metric: Metric) -> dict[str, Any]:
    """ECharts options: the rates of every unit with data, and the ranking by the chosen metric."""
    shown = [r for r in rows if has_data(r)]
    labels = {c: label for c, label, _ in COLUMNS}
    rates = {
        "tooltip": {"trigger": "axis"},
        "legend": {"top": 0},
        "grid": {"left": 10, "right": 10, "top": 50, "bottom": 10, "containLabel": True},
        "xAxis": {"type": "category", "data": [r.name for r in shown], "axisLabel": {"rotate": 40, "interval": 0}},
        "yAxis": {"type": "value", "max": 100, "axisLabel": {"formatter": "{value}%"}},
        "series": [
            {
                "name": labels[c],
                "type": "bar",
                "data": [None if getattr(r, c) is None else round(getattr(r, c) * 100, 1) for r in shown],
            }
            for c in CHARTED
        ],
    }
    scale = 1 if metric is Metric.satisfaction_score else 100
    ranking = {
        "tooltip": {"trigger": "axis"},
        "grid": {"left": 10, "right": 30, "top": 10, "bottom": 10, "containLabel": True},
        "xAxis": {"type": "value", "max": 100},
        "yAxis": {"type": "category", "inverse": True, "data": [f"{u.rank}. {u.name}" for u in ranked]},
        "series": [{"name": METRIC_LABEL[metric], "type": "bar", "data": [round(u.value * scale, 1) for u in ranked]}],
    }
    return {"rates": rates, "ranking": ranking}


def _args(date_from: str, date_to: str, tier: str, metric: str) -> tuple[Period, Tier | None, Metric]:
    period = period_of(date_from, date_to)
    try:
        level = Tier(tier) if tier else None
        chosen = Metric(metric) if metric else Metric.satisfaction_score
    except ValueError as err:
        raise StatsError("tier", "请选择有效的层级和排名指标") from err
    return period, level, chosen


@router.get("", response_class=HTMLResponse)
async def stats_page(
    request: Request,
    user: CurrentUser,
    session: SessionDep,
    parts: PartsDep,
    date_from: str = "",
    date_to: str = "",
    tier: str = "",
    metric: str = "",
) -> HTMLResponse:
    web.require(user, Role.supervisor)
    context: dict[str, Any] = {
        "metrics": METRIC_LABEL,
        "columns": COLUMNS,
        "tiers": [t for t in Tier if t is not Tier.district],
        "query": {"date_from": date_from, "date_to": date_to, "tier": tier, "metric": metric},
    }
    try:
        period, level, chosen = _args(date_from, date_to, tier, metric)
        rows, ranked = await run_in_threadpool(figures, session, parts, period, level, chosen)
    except StatsError as err:
        return web.page(request, "stats.html", {**context, "error": err.message}, status=422)
    shown = [r for r in rows if has_data(r)]
    context.update(
        error=None,
        period=period,
        tier=level,
        metric=chosen,
        rows=shown,
        idle=len(rows) - len(shown),
        ranked=ranked,
        charts=chart_options(rows, ranked, chosen),
        query={"date_from": period.first.isoformat(), "date_to": period.last.isoformat(), "tier": tier},
    )
    context["query"]["metric"] = chosen.value
    return web.page(request, "stats.html", context)


def table(rows: list[UnitStats]) -> tuple[list[str], list[list[Any]]]:
    """The export's header and rows: raw figures (shares as fractions), units with data first."""
    header = ["单位编号", "单位", "层级", *(label for _, label, _ in COLUMNS), "部门评价（速度/配合/效果）"]
    body = []
    for r in sorted(rows, key=lambda r: not has_data(r)):
        rating = r.whistler_rating
        body.append(
            [
                r.unit_id,
                r.name,
                TIER_LABEL[r.tier],
                *(getattr(r, c) for c, _, _ in COLUMNS),
                f"{rating.speed:.1f}/{rating.cooperation:.1f}/{rating.result:.1f}" if rating else None,
            ]
        )
    return header, body


@router.get("/export.{fmt}")
async def export(
    user: CurrentUser,
    session: SessionDep,
    parts: PartsDep,
    fmt: str,
    date_from: str = "",
    date_to: str = "",
    tier: str = "",
) -> Response:
    web.require(user, Role.supervisor)
    if fmt not in ("csv", "xlsx"):
        return Response("只能导出 csv 或 xlsx", status_code=404, media_type="text/plain; charset=utf-8")
    try:
        period, level, chosen = _args(date_from, date_to, tier, "")
    except StatsError as err:
        return Response(err.message, status_code=422, media_type="text/plain; charset=utf-8")
    rows, ranked = await run_in_threadpool(figures, session, parts, period, level, chosen)
    header, body = table(rows)
    name = f"stats-{period.first:%Y%m%d}-{period.last:%Y%m%d}.{fmt}"
    disposition = {"Content-Disposition": f'attachment; filename="{name}"'}
    if fmt == "csv":
        out = io.StringIO()
        writer = csv.writer(out)
        writer.writerow([f"统计期间 {period.label}"])
        writer.writerow(header)
        writer.writerows(body)
        # A byte-order mark, so that Excel on a Chinese desktop reads the file as UTF-8.
        return Response("\ufeff" + out.getvalue(), media_type="text/csv; charset=utf-8", headers=disposition)
    return Response(
        workbook(period, header, body),
        media_type="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        headers=disposition,
    )


def workbook(period: Period, header: list[str], body: list[list[Any]]) -> bytes:
    wb = Workbook()
    sheet = wb.active
    assert sheet is not None
    sheet.title = "考评统计"
    sheet.append([f"统计期间 {period.label}"])
    sheet.append(header)
    for cell in sheet[2]:
        cell.font = Font(bold=True)
    kinds = ["text", "text", "text", *(kind for _, _, kind in COLUMNS), "text"]
    for values in body:
        sheet.append(values)
        for cell, kind in zip(sheet[sheet.max_row], kinds, strict=True):
            if kind == "rate":
                cell.number_format = "0.0%"
            elif kind == "score":
                cell.number_format = "0.0"
    out = io.BytesIO()
    wb.save(out)
    return out.getvalue()
