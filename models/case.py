"""The case: its status, the policy slice it keeps, its state, its input, what readers see, the closure record.

Workflows, activities, the API and the CLI all speak these types; none of them carries a reporter's name or
phone number, only a vault reference and a masked phone.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from pydantic import Field

from models.base import Model
from models.inputs import RatingLevel
from models.intake import Intake, ReporterRef, SealedReporter
from models.policy import (
    CalendarPolicy,
    Category,
    ClassLimits,
    Directory,
    Limit,
    RatingRules,
    Shared,
    Supervision,
    Tier,
    Urgency,
    WhistleKind,
    WhistleLimits,
    WorkingDays,
)
from models.timeline import CaseEvent, Deadline, DeadlineKind, Message
from models.whistle import WhistleSummary


class Status(StrEnum):
    intake = "intake"
    dispatched = "dispatched"
    handling = "handling"
    return_pending = "return_pending"
    suspended = "suspended"
    replied = "replied"
    supervisor = "supervisor"
    to_redispatch = "to_redispatch"
    closed = "closed"


STATUS_LABEL: dict[Status, str] = {
    Status.intake: "受理中",
    Status.dispatched: "待签收",
    Status.handling: "办理中",
    Status.return_pending: "退单待审",
    Status.suspended: "挂账",
    Status.replied: "待评价",
    Status.supervisor: "待督办处置",
    Status.to_redispatch: "待督办改派",
    Status.closed: "已销号",
}


class Outcome(StrEnum):
    rated = "rated"
    unrated = "unrated"
    withdrawn = "withdrawn"
    merged = "merged"
    rejected = "rejected"
    closed_by_supervisor = "closed_by_supervisor"


OUTCOME_LABEL: dict[Outcome, str] = {
    Outcome.rated: "已评价",
    Outcome.unrated: "未评价（评价期满）",
    Outcome.withdrawn: "已撤回",
    Outcome.merged: "已合并",
    Outcome.rejected: "不予受理",
    Outcome.closed_by_supervisor: "督办销号",
}


class CasePolicy(Model):
    """The slice of the policy a case snapshots at intake; later policy changes do not touch it."""

    version: str
    urgency: Urgency
    limits: Shared[ClassLimits]
    category: Shared[Category]
    whistle: dict[WhistleKind, Shared[WhistleLimits]]
    supervision: Shared[Supervision]
    rating: Shared[RatingRules]
    calendar: Shared[CalendarPolicy] | None = Field(
        default=None,
        description="the calendar as configured, for cases opened before they carried `workdays` (they plan "
        "through the calendar activity); a case that carries its working days needs nothing else of it",
    )
    directory: Shared[Directory]
    workdays: Shared[WorkingDays] | None = Field(
        default=None, description="the calendar resolved at intake; None in cases opened before it was carried"
    )


class Routing(Model):
    """派单: the lead unit (首接负责) and the units that assist."""

    lead: str
    tier: Tier
    assisting: list[str] = Field(default_factory=list)
    rule: str


class PendingExtension(Model):
    requested_by: str
    unit_id: str
    amount: Limit
    reason: str
    approver: str


class PendingReturn(Model):
    unit_id: str
    previous: Status
    reason: str
    approver: str


class Rating(Model):
    level: RatingLevel
    solved: bool
    comment: str = ""
    at: datetime


class StuckAt(Model):
    """The unit whose slice ran out when the case went to the supervisor (待督办改派), and how it held it."""

    unit_id: str
    status: Status


RULES_2026_12 = 2
"""Rule set 2 (2026-12). Who is charged (DOMAIN.md): 办结 follows the case, slices are never capped at a past
limit, the rating window is the resident's, 重办 counts the reopens that happened, a street out of time goes to
the supervisor (policy). A lighter history: a timer whose point did not move is kept, search attributes are
written when they change. Cases opened before keep rule set 1, as their histories recorded."""


class CaseState(Model):
    case_id: str
    intake: Intake
    rules: int = Field(default=1, description="the rule set the case runs under (see RULES_2026_12)")
    status: Status = Status.intake
    policy: CasePolicy | None = None
    routing: Routing | None = None
    holder: str | None = Field(default=None, description="the unit that holds the case now")
    tier: Tier | None = None
    replied_by: str | None = None
    reply: str | None = None
    reopen_count: int = 0
    rating: Rating | None = None
    pending_return: PendingReturn | None = None
    pending_extension: PendingExtension | None = None
    suspended_at: datetime | None = None
    suspended_from: Status | None = None
    stuck_at: StuckAt | None = None
    whistles: list[WhistleSummary] = Field(default_factory=list)
    deadlines: list[Deadline] = Field(default_factory=list)
    events: list[CaseEvent] = Field(default_factory=list)
    request_ids: list[str] = Field(default_factory=list)
    outcome: Outcome | None = None
    closed_at: datetime | None = None
    projected_seq: int = 0
    pending_notices: list[tuple[int, Message]] = Field(default_factory=list)

    def open_deadlines(self) -> list[Deadline]:
        return [d for d in self.deadlines if d.open]

    @property
    def overdue(self) -> bool:
        if self.status is Status.closed:
            return any(d.missed for d in self.deadlines if d.kind is DeadlineKind.reply)
        return any(d.missed for d in self.open_deadlines())

    @property
    def next_deadline(self) -> datetime | None:
        return min((d.due_at for d in self.open_deadlines() if not d.missed), default=None)

    @property
    def overdue_since(self) -> datetime | None:
        """The due time of the earliest limit the case has missed and not yet met: what its holder is late on."""
        return min((d.due_at for d in self.open_deadlines() if d.missed), default=None)

    @property
    def awaiting(self) -> str | None:
        """The unit whose decision a pending 退单 or 延期 waits for."""
        pending = self.pending_return or self.pending_extension
        return pending.approver if pending else None

    @property
    def active_whistle(self) -> WhistleSummary | None:
        return next((w for w in self.whistles if w.active), None)


class OpenCaseResult(Model):
    """受理 and 派单: the policy snapshot the case keeps and where it goes first."""

    policy: CasePolicy
    routing: Routing


class CaseInput(Model):
    intake: Intake
    case_id: str
    intake_token: str | None = Field(
        default=None, description="drawn by the caller that starts the case: the one whose token the case keeps made it"
    )
    sealed_reporter: SealedReporter | None = Field(
        default=None, description="for the vault, written by the first projection; never carried further"
    )
    opened: OpenCaseResult | None = Field(
        default=None,
        description="taken by the 受理 service at intake; without it the case takes it itself (open_case activity)",
    )
    rules: int | None = Field(
        default=None,
        ge=1,
        le=RULES_2026_12,
        description="the rule set the 受理 service opened the case under; without it the case asks a patch marker",
    )
    state: CaseState | None = Field(default=None, description="carried over by continue-as-new")
    continue_after_events: int = Field(
        default=1000, ge=1, description="continue as new after this many timeline events in one run"
    )


# ---------------------------------------------------------------------------------------------------------
# what readers see


class CaseView(Model):
    case_id: str
    status: Status
    status_label: str
    channel: str
    channel_ticket_id: str
    category: str
    urgency: Urgency | None
    title: str
    holder: str | None
    tier: Tier | None
    reporter: ReporterRef
    reopen_count: int
    rating: Rating | None
    overdue: bool
    next_deadline: datetime | None
    deadlines: list[Deadline]
    pending_return: PendingReturn | None
    pending_extension: PendingExtension | None
    whistles: list[WhistleSummary]
    outcome: Outcome | None
    closed_at: datetime | None
    policy_version: str | None
    last_seq: int
    recorded_seq: int = Field(default=0, description="events already in the read model")


class CaseOpened(Model):
    """What the start-and-wait of 受理 answers: the case, and the token of the caller that started it."""

    view: CaseView
    intake_token: str | None


class DeadlineRecord(Model):
    kind: DeadlineKind
    unit_id: str
    started_at: datetime
    due_at: datetime
    closed_at: datetime | None
    met: bool | None = Field(description="None: the case moved on before this deadline was due")
    missed_by: str | None = Field(default=None, description="the unit charged with the miss")


class UnitRecord(Model):
    unit_id: str
    actions: list[str]


class ClosureRecord(Model):
    """销号: the final record of a case. Once written, nothing changes it."""

    case_id: str
    outcome: Outcome
    closed_at: datetime
    category: str
    urgency: Urgency | None
    rating: Rating | None
    reopen_count: int
    replied_by: str | None
    reply: str | None
    units: list[UnitRecord]
    deadlines: list[DeadlineRecord]
    events: int
    policy_version: str | None
