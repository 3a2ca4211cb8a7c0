"""The case's activities: open a case against the policy (and its calendar), record events.

Bad input raises a non-retryable ApplicationError; everything else may be retried safely.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import structlog
from sqlalchemy.engine import Engine
from temporalio import activity
from temporalio.exceptions import ApplicationError

from activities.notify import Notifier
from activities.upsert import insert_or_ignore, upsert_unless_older
from models.case import OpenCaseResult, Plan
from models.io import CaseRowData, OpenCaseInput, PlanInput, RecordInput
from models.tables import CaseRow, EventRow
from policy import load_policy
from policy.routing import RoutingError
from policy.snapshot import UnknownCategory, calendar_for, snapshot_case

log = structlog.get_logger(__name__)
INTAKE_AS_GIVEN = ("description", "address", "lat", "lng", "media_url")


class CaseActivities:
    def __init__(self, *, engine: Engine, notifier: Notifier, policy_dir: Path | None = None) -> None:
        self.engine = engine
        self.notifier = notifier
        self.policy_dir = policy_dir
        cases, events = CaseRow.__table__, EventRow.__table__  # type: ignore[attr-defined]
        # An older projection retried after a newer one must not roll the row back. The intake as given is
        # written again too, so a row recorded before its columns existed gets them with the case's next event.
        columns = [*CaseRowData.model_fields, *INTAKE_AS_GIVEN]
        self._upsert_case = upsert_unless_older(engine, cases, "case_id", "last_seq", columns)
        self._insert_events = insert_or_ignore(engine, events, ("case_id", "seq"))

    @activity.defn(name="open_case")
    def open_case(self, inp: OpenCaseInput) -> OpenCaseResult:
        """Snapshot the policy in force and route the case (派单), for a case started without the snapshot."""
        try:
            opened = snapshot_case(load_policy(self.policy_dir), inp.intake, datetime.now(UTC).date())
        except UnknownCategory as err:
            raise ApplicationError(str(err), type="UnknownCategory", non_retryable=True) from err
        except RoutingError as err:
            raise ApplicationError(str(err), type="UnknownGrid", non_retryable=True) from err
        routing, version = opened.routing, opened.policy.version
        log.info("case_opened", case_id=inp.case_id, category=inp.intake.category, lead=routing.lead, policy=version)
        return opened

    @activity.defn(name="plan_deadlines")
    def plan_deadlines(self, inp: PlanInput) -> list[Plan]:
        """Deadlines for cases opened before cases carried their calendar (`CasePolicy.workdays`)."""
        if len(inp.starts) != len(inp.limits):
            raise ApplicationError("starts and limits differ in length", type="InvalidInput", non_retryable=True)
        cal = calendar_for(inp.calendar)
        return [cal.plan(start, limit, inp.supervision) for start, limit in zip(inp.starts, inp.limits, strict=True)]

    @activity.defn(name="record")
    def record(self, inp: RecordInput) -> None:
        """Project events into the read model and queue their notices; idempotent per case id + seq.

        Plain INSERT ... ON CONFLICT statements: one round of writes per call, however often it is retried.
        """
        intake = inp.intake
        row = {
            "case_id": inp.case_id,
            "channel": intake.channel,
            "channel_ticket_id": intake.channel_ticket_id,
            "category": intake.category,
            "title": intake.title,
            "grid_id": intake.location.grid_id,
            "description": intake.description,
            "address": intake.location.address,
            "lat": intake.location.lat,
            "lng": intake.location.lng,
            "media_url": intake.attachments[0] if intake.attachments else None,
            "reporter_ref": intake.reporter.ref,
            "reported_at": intake.reported_at,
            "last_seq": max((e.seq for e in inp.events), default=0),
            **inp.row.model_dump(),
        }
        with self.engine.begin() as conn:
            conn.execute(self._upsert_case, row)
            if inp.events:
                conn.execute(
                    self._insert_events,
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
