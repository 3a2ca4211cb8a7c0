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
from activities.projection import Projection
from models.case import OpenCaseResult
from models.io import OpenCaseInput, PlanInput, RecordInput
from models.timeline import Plan
from policy import load_policy
from policy.snapshot import UnknownCategory, calendar_for, snapshot_case
from rules.routing import RoutingError

log = structlog.get_logger(__name__)


class CaseActivities:
    def __init__(self, *, engine: Engine, notifier: Notifier, policy_dir: Path | None = None) -> None:
        self.engine = engine
        self.notifier = notifier
        self.policy_dir = policy_dir
        self.projection = Projection(engine)

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
        """Project events into the read model and queue their notices in the outbox; idempotent per case id + seq.

        Delivery is the notification dispatcher's: nothing here waits on a receiver.

        Plain INSERT ... ON CONFLICT statements: one round of writes per call, however often it is retried.
        """
        with self.engine.begin() as conn:
            self.projection.write(conn, inp)
            self.notifier.queue(conn, inp.case_id, inp.notices, inp.intake.reporter.ref)
