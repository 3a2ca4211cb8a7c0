"""Operators' view: health (database, Temporal, the working calendar's horizon) and Prometheus metrics by the
conventions (`*_total` counters, `http_request_duration_seconds` with a status label, overdue cases by unit and
tier, the calendar's horizon), read from the read model on either database."""

from __future__ import annotations

from datetime import UTC, date, datetime

from prometheus_client import CollectorRegistry, generate_latest
from sqlmodel import Session

from api.routes.ops import ReadModel, calendar_health
from models.tables import CaseRow, EventRow
from policy import load_policy
from store.db import engine_for
from tests.api.conftest import Stack, key

POLICY = load_policy()


def test_the_calendar_warns_when_fewer_than_60_days_ahead_are_known() -> None:
    december = datetime(2026, 12, 2, 4, 0, tzinfo=UTC)  # chinesecalendar 1.11 knows nothing of 2027
    short = calendar_health(POLICY, december)
    assert (short.ok, short.covered_through, short.days_ahead) == (False, date(2026, 12, 31), 29)
    assert short.message is not None and "2027" in short.message and "calendar.toml" in short.message
    published = POLICY.model_copy(
        update={"calendar": POLICY.calendar.model_copy(update={"holidays": (date(2027, 1, 1), date(2027, 2, 8))})}
    )
    covered = calendar_health(published, december)
    assert covered.ok and covered.covered_through == date(2027, 12, 31) and covered.message is None
    assert calendar_health(POLICY, datetime(2026, 6, 1, tzinfo=UTC)).ok
    natural = POLICY.model_copy(update={"calendar": POLICY.calendar.model_copy(update={"working_days": False})})
    assert calendar_health(natural, december).ok and calendar_health(natural, december).covered_through is None


async def test_health_and_metrics_over_http(stack: Stack) -> None:
    health = await stack.api.get("/healthz")
    assert health.status_code == 200, health.text
    body = health.json()
    expected = calendar_health(POLICY)
    assert body["database"] is True and body["temporal"] is True
    assert body["calendar"]["ok"] is expected.ok and body["status"] == ("ok" if expected.ok else "warning")
    assert body["warnings"] == ([] if expected.ok else [expected.message])

    await stack.api.get("/units", headers=key("app"))
    await stack.api.get("/units")  # 401
    text = (await stack.api.get("/metrics")).text
    assert 'http_request_duration_seconds_count{method="GET",route="/units",status="200"}' in text
    assert 'http_request_duration_seconds_count{method="GET",route="/units",status="401"}' in text
    assert "# TYPE case_escalations_total counter" in text and "# TYPE cases_overdue gauge" in text
    assert f"working_calendar_days_ahead {float(expected.days_ahead or 0)}" in text


def test_overdue_cases_by_unit_and_tier(database_url: str) -> None:
    engine = engine_for(database_url)
    now = datetime.now(UTC)
    with Session(engine) as session:
        for n, (holder, tier, overdue, status) in enumerate(
            [
                ("grid-a1-1", "grid", True, "handling"),
                ("grid-a1-1", "grid", True, "dispatched"),
                ("comm-a1", "community", True, "handling"),
                ("comm-a1", "community", False, "handling"),
                ("street-a", "street", True, "closed"),
            ]
        ):
            session.add(
                CaseRow(
                    case_id=f"case-m-{n}", channel="app", channel_ticket_id=str(n), category="street_vending",
                    title="t", grid_id="grid-a1-1", status=status, holder=holder, tier=tier, overdue=overdue,
                    reported_at=now,
                )
            )  # fmt: skip
        session.add(EventRow(case_id="case-m-0", seq=1, at=now, kind="auto_escalate", actor="engine", text=""))
        session.commit()
    registry = CollectorRegistry(auto_describe=False)
    registry.register(ReadModel(engine, POLICY))
    text = generate_latest(registry).decode()
    assert 'cases_overdue{tier="grid",unit="grid-a1-1"} 2.0' in text
    assert 'cases_overdue{tier="community",unit="comm-a1"} 1.0' in text
    assert 'unit="street-a"' not in text  # closed: no longer overdue now
    assert "case_escalations_total 1.0" in text
