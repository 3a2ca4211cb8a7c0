"""The case's activities: open a case against the policy, plan deadlines on the calendar, record events.

Bad input raises a non-retryable ApplicationError; everything else may be retried safely.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

import structlog
from sqlalchemy.engine import Engine
from temporalio import activity
from temporalio.exceptions import ApplicationError

from activities.notify import Notifier
from activities.upsert import insert_for
from models.case import CasePolicy, Plan
from models.io import OpenCaseInput, OpenCaseResult, PlanInput, RecordInput
from models.policy import CalendarPolicy
from models.tables import CaseRow, EventRow
from policy import load_policy
from policy.calendar import WorkingCalendar
from policy.routing import RoutingError, route

log = structlog.get_logger(__name__)


@lru_cache(maxsize=32)
def calendar_for(policy: CalendarPolicy) -> WorkingCalendar:
    """One calendar per calendar policy, so its look-ups and its year-not-covered warning happen once."""
    return WorkingCalendar(policy)


class CaseActivities:
    def __init__(self, *, engine: Engine, notifier: Notifier, policy_dir: Path | None = None) -> None:
        self.engine = engine
        self.notifier = notifier
        self.policy_dir = policy_dir

    @activity.defn(name="open_case")
    def open_case(self, inp: OpenCaseInput) -> OpenCaseResult:
        """Snapshot the policy in force and route the case (派单)."""
        policy = load_policy(self.policy_dir)
        category = policy.category(inp.intake.category)
        if category is None:
            raise ApplicationError(
                f"unknown category {inp.intake.category}", type="UnknownCategory", non_retryable=True
            )
        try:
            routing = route(category, inp.intake.location.grid_id, policy.directory)
        except RoutingError as err:
            raise ApplicationError(str(err), type="UnknownGrid", non_retryable=True) from err
        urgency = inp.intake.urgency or category.urgency
        snapshot = CasePolicy(
            version=policy.version,
            urgency=urgency,
            limits=policy.limits[urgency],
            category=category,
            whistle=policy.whistle,
            supervision=policy.supervision,
            rating=policy.rating,
            calendar=policy.calendar,
            directory=policy.directory,
        )
        log.info("case_opened", case_id=inp.case_id, category=category.id, lead=routing.lead, policy=policy.version)
        return OpenCaseResult(policy=snapshot, routing=routing)

    @activity.defn(name="plan_deadlines")
    def plan_deadlines(self, inp: PlanInput) -> list[Plan]:
        """Working-day arithmetic lives here, so a later calendar change never alters a replay."""
        if len(inp.starts) != len(inp.limits):
            raise ApplicationError("starts and limits differ in length", type="InvalidInput", non_retryable=True)
        cal = calendar_for(inp.calendar)
        plans = []
        for start, limit in zip(inp.starts, inp.limits, strict=True):
            due = cal.add(start, limit)
            plans.append(
                Plan(
                    due_at=due,
                    urge_at=cal.span_fraction(start, due, inp.supervision.urge_fraction),
                    notice_at=cal.add(due, inp.supervision.public_notice_after),
                )
            )
        return plans

    @activity.defn(name="record")
    def record(self, inp: RecordInput) -> None:
        """Project events into the read model and queue their notices; idempotent per case id + seq.

        Plain INSERT ... ON CONFLICT statements: one round of writes per call, however often it is retried.
        """
        intake = inp.intake
        last = max((e.seq for e in inp.events), default=0)
        cases, events = CaseRow.__table__, EventRow.__table__  # type: ignore[attr-defined]
        row = {
            "case_id": inp.case_id,
            "channel": intake.channel,
            "channel_ticket_id": intake.channel_ticket_id,
            "category": intake.category,
            "title": intake.title,
            "grid_id": intake.location.grid_id,
            "reporter_ref": intake.reporter.ref,
            "reported_at": intake.reported_at,
            "last_seq": last,
            **inp.row.model_dump(),
        }
        upsert = insert_for(self.engine, cases).values(row)
        upsert = upsert.on_conflict_do_update(
            index_elements=["case_id"],
            set_={k: upsert.excluded[k] for k in (*inp.row.model_dump(), "last_seq")},
            # An older projection retried after a newer one must not roll the row back.
            where=cases.c.last_seq <= upsert.excluded.last_seq,
        )
        with self.engine.begin() as conn:
            conn.execute(upsert)
            if inp.events:
                conn.execute(
                    insert_for(self.engine, events).on_conflict_do_nothing(index_elements=["case_id", "seq"]),
                    [
                        {
                            "case_id": inp.case_id,
                            "seq": e.seq,
                            "at": e.at,
                            "kind": e.kind.value,
                            "actor": e.actor,
                            "unit_id": e.unit_id,
                            "tier": e.tier.value if e.tier else None,
                            "text": e.text,
                            "data": e.data,
                            "deadline_kind": e.deadline.kind.value if e.deadline else None,
                            "deadline_due": e.deadline.due_at if e.deadline else None,
                            "deadline_met": e.deadline.met if e.deadline else None,
                        }
                        for e in inp.events
                    ],
                )
            self.notifier.queue(conn, inp.case_id, inp.notices, intake.reporter.ref)
        self.notifier.deliver(inp.case_id)
