"""Inputs and results of activities and of the messages between the case and its whistles."""

from __future__ import annotations

from datetime import datetime

from pydantic import Field

from models.base import Model
from models.intake import Intake, SealedReporter
from models.policy import CalendarPolicy, Limit, Supervision
from models.timeline import CaseEvent, Message


class OpenCaseInput(Model):
    case_id: str
    intake: Intake


class PlanInput(Model):
    """Deadlines to compute: `limits[i]` counted from `starts[i]`."""

    starts: list[datetime]
    limits: list[Limit]
    calendar: CalendarPolicy
    supervision: Supervision


class CaseRowData(Model):
    """The columns of the read-model row, as the workflow sees the case after the events."""

    status: str
    holder: str | None
    awaiting: str | None = None
    tier: str | None
    urgency: str | None
    overdue: bool
    next_deadline: datetime | None
    overdue_since: datetime | None = None
    reply_due: datetime | None
    replied_by: str | None
    replied_at: datetime | None
    rating: str | None
    solved: bool | None
    reopen_count: int
    whistled: bool
    outcome: str | None
    closed_at: datetime | None
    policy_version: str | None


class RecordInput(Model):
    """Project events to the read model and send their notices; keyed by case id + event seq."""

    case_id: str
    intake: Intake
    row: CaseRowData
    events: list[CaseEvent]
    notices: list[tuple[int, Message]] = Field(default_factory=list, description="(event seq, notice)")
    reporter: SealedReporter | None = Field(default=None, description="to the vault, on the first projection")


class MergeNote(Model):
    """A duplicate tells the case it was merged into (合并), so that case's timeline says so."""

    case_id: str
    reason: str
    actor: str


class WhistleNote(Model):
    """A whistle tells its case what happened, so the case keeps one ordered timeline."""

    n: int
    event: CaseEvent
    notices: list[Message] = Field(default_factory=list)
