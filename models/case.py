"""The case: intake, actors, actions (one model per update), deadlines, events, views and the closure record.

Workflows, activities, the API and the CLI all speak these types; none of them carries a reporter's name or
phone number, only a vault reference and a masked phone.
"""

from __future__ import annotations

import re
from datetime import datetime
from enum import StrEnum
from typing import Annotated, Any, Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, StringConstraints, field_validator, model_validator

from models.payloads import DepartmentRating, EventData, from_legacy
from models.policy import (
    CalendarPolicy,
    Category,
    ClassLimits,
    Directory,
    Limit,
    RatingRules,
    Supervision,
    Tier,
    Urgency,
    WhistleKind,
    WhistleLimits,
    WorkingDays,
)

Text = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=2000)]
ShortText = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]
Reason = Annotated[str, StringConstraints(strip_whitespace=True, min_length=2, max_length=1000)]
Ident = Annotated[str, StringConstraints(strip_whitespace=True, pattern=r"^[A-Za-z0-9][A-Za-z0-9_.:-]{0,63}$")]
CaseId = Annotated[str, StringConstraints(strip_whitespace=True, pattern=r"^case[-:][A-Za-z0-9_.:~-]{1,250}$")]
"""A case's id as `case_id_for` makes it (or as cases started before 2026-12 have it)."""


class Model(BaseModel):
    model_config = ConfigDict(extra="forbid")


# ---------------------------------------------------------------------------------------------------------
# intake


class ReporterRef(Model):
    """What a workflow may know of the reporter: a vault reference, never the name or phone."""

    ref: str | None = Field(default=None, description="reporter vault id; None when anonymous")
    masked_phone: str | None = Field(default=None, pattern=r"^\d{3}\*{4}\d{4}$")
    confidential: bool = False


class SealedReporter(Model):
    """The reporter's name and phone as the vault stores them, encrypted by the API before the case starts.

    It travels once, in the case's start input, to the case's first projection, which writes it to the vault
    in the same transaction as the case's row: one vault row per case, and none without a case."""

    ref: str
    name_enc: str
    phone_enc: str
    masked_phone: str
    confidential: bool = False

    def reference(self) -> ReporterRef:
        return ReporterRef(ref=self.ref, masked_phone=self.masked_phone, confidential=self.confidential)


class Location(Model):
    grid_id: Ident
    address: ShortText
    lat: float | None = Field(default=None, ge=-90, le=90)
    lng: float | None = Field(default=None, ge=-180, le=180)


class Intake(Model):
    """受理: a case as a channel hands it over."""

    channel: Ident
    channel_ticket_id: Ident
    category: Ident
    title: ShortText
    description: Text
    location: Location
    urgency: Urgency | None = Field(default=None, description="defaults to the category's class")
    reporter: ReporterRef = ReporterRef()
    attachments: list[Annotated[str, StringConstraints(pattern=r"^https?://\S+$", max_length=500)]] = Field(
        default_factory=list, max_length=20
    )
    reported_at: AwareDatetime


_ID_SAFE = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_.-")
MAX_CASE_ID = 255


def _escape(part: str) -> str:
    """Letters, digits and `_.-` as they are; every other character as `~XX` per UTF-8 byte (`~` itself too).

    The output never holds `:`, and each output has one input, so `case:<channel>:<ticket>` cannot collide."""
    return "".join(ch if ch in _ID_SAFE else "".join(f"~{b:02X}" for b in ch.encode()) for ch in part)


def case_id_for(channel: str, channel_ticket_id: str) -> str:
    """The same ticket from the same channel is one case, and two tickets are two: the id is derived, injective
    in (channel, ticket) whatever characters either holds. Raises ValueError for an id too long to store."""
    case_id = f"case:{_escape(channel)}:{_escape(channel_ticket_id)}"
    if len(case_id) > MAX_CASE_ID:
        raise ValueError(f"case id longer than {MAX_CASE_ID} characters")
    return case_id


def legacy_case_id_for(channel: str, channel_ticket_id: str) -> str:
    """The ids of cases started before 2026-12 (they keep them): `:` folded into `_` and a `-` between channel
    and ticket, so `c1:1` and `c1_1`, or channel `app-x` ticket `1` and `app` ticket `x-1`, were one id."""
    return f"case-{channel}-{re.sub(r'[^A-Za-z0-9_.-]', '_', channel_ticket_id)}"


# ---------------------------------------------------------------------------------------------------------
# actors and actions


class Role(StrEnum):
    channel = "channel"
    unit = "unit"
    supervisor = "supervisor"
    system = "system"


class Actor(Model):
    role: Role
    id: Ident = Field(description="the channel id, or the staff member's id")
    unit_id: Ident | None = Field(default=None, description="the unit a unit member or supervisor acts for")

    @field_validator("unit_id")
    @classmethod
    def _strip(cls, v: str | None) -> str | None:
        return v or None

    def label(self) -> str:
        return f"{self.unit_id}/{self.id}" if self.unit_id else self.id


SYSTEM = Actor(role=Role.system, id="engine")


class Action(Model):
    actor: Actor
    request_id: Ident | None = Field(default=None, description="a repeated request id is refused as 重复提交")


class SignAction(Action):
    """签收."""


class ReturnAction(Action):
    """退单: not ours, with the reason."""

    reason: Reason


class ReturnDecision(Action):
    """The tier above approves a 退单 and names the unit to 改派 to, or refuses it."""

    approve: bool
    to_unit: Ident | None = None
    reason: Reason


class RedispatchAction(Action):
    """改派 by a supervisor."""

    to_unit: Ident
    reason: Reason


class EscalateAction(Action):
    """上报 to the next tier."""

    reason: Reason


class WhistleAction(Action):
    """吹哨: summon departments."""

    kind: WhistleKind
    departments: list[Ident] = Field(min_length=1, max_length=10)
    reason: Reason


class ExtensionRequest(Action):
    """延期: more time, asked before the deadline."""

    amount: Limit
    reason: Reason


class ExtensionDecision(Action):
    approve: bool
    reason: Reason


class SuspendAction(Action):
    """挂账: seasonal or engineering work; the deadlines stop until resumed."""

    reason: Reason


class ResumeAction(Action):
    reason: Reason


class ReplyAction(Action):
    """办结: the result, after contacting the resident."""

    result: Text
    contacted_reporter: bool = True


RatingLevel = Literal["very_satisfied", "satisfied", "basically_satisfied", "unsatisfied", "very_unsatisfied"]
RATING_LABEL: dict[str, str] = {
    "very_satisfied": "非常满意",
    "satisfied": "满意",
    "basically_satisfied": "基本满意",
    "unsatisfied": "不满意",
    "very_unsatisfied": "非常不满意",
}
RATING_SCORE: dict[str, int] = {
    "very_satisfied": 100,
    "satisfied": 80,
    "basically_satisfied": 60,
    "unsatisfied": 20,
    "very_unsatisfied": 0,
}
UNSATISFIED: frozenset[str] = frozenset({"unsatisfied", "very_unsatisfied"})


class RateAction(Action):
    """回访评价, given by the resident through the channel that took the case."""

    level: RatingLevel
    solved: bool
    comment: Annotated[str, StringConstraints(max_length=1000)] = ""


class WithdrawAction(Action):
    """撤回 by the reporter."""

    reason: Reason


class MergeAction(Action):
    """合并 a duplicate into another case."""

    into_case_id: CaseId
    reason: Reason


class RejectAction(Action):
    """不予受理: out of scope."""

    reason: Reason


class UrgeAction(Action):
    """催办 by hand."""

    note: Reason


class SuperviseAction(Action):
    """督办 by hand."""

    note: Reason


class ExtendAction(Action):
    """督办延期: a supervisor gives the unit whose slice ran out more time, and the case goes back to it."""

    amount: Limit
    reason: Reason


class CloseAction(Action):
    """A supervisor strikes off a case that has used up its 重办."""

    reason: Reason


class ReportAction(Action):
    """报到: a summoned department arrives."""


class ContactAction(Action):
    """A summoned department has contacted the whistling unit and started work."""

    note: Reason


class ReleaseAction(Action):
    """事不完、人不撤: only the whistler releases a department."""

    department: Ident
    note: Reason


WHISTLE_KIND_LABEL: dict[WhistleKind, str] = {
    WhistleKind.ordinary: "工作推进哨",
    WhistleKind.hard: "攻坚哨",
    WhistleKind.emergency: "应急哨",
}


class RateDepartmentsAction(Action):
    """双考核: the whistler rates each department it summoned."""

    ratings: list[DepartmentRating] = Field(min_length=1)


# ---------------------------------------------------------------------------------------------------------
# state


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


class DeadlineKind(StrEnum):
    dispatch = "dispatch"
    sign = "sign"
    tier = "tier"
    reply = "reply"
    rating = "rating"
    report = "report"
    contact = "contact"
    finish = "finish"


DEADLINE_LABEL: dict[DeadlineKind, str] = {
    DeadlineKind.dispatch: "派单时限",
    DeadlineKind.sign: "签收时限",
    DeadlineKind.tier: "本级办理时限",
    DeadlineKind.reply: "办结时限",
    DeadlineKind.rating: "评价期限",
    DeadlineKind.report: "报到时限",
    DeadlineKind.contact: "对接时限",
    DeadlineKind.finish: "完成时限",
}


class Plan(Model):
    """A deadline as the calendar computed it: when it is due, when to 催办, when to 通报."""

    due_at: datetime
    urge_at: datetime
    notice_at: datetime


class Deadline(Model):
    id: int
    kind: DeadlineKind
    unit_id: str
    started_at: datetime
    due_at: datetime
    urge_at: datetime
    notice_at: datetime
    urged: bool = False
    missed: bool = False
    noticed: bool = False
    cancelled: bool = Field(default=False, description="closed because the case moved on (改派, 上报, 撤回 ...)")
    closed_at: datetime | None = None
    missed_by: str | None = Field(
        default=None, description="the unit charged with the miss: the one that held it then (办结 follows the case)"
    )

    @property
    def open(self) -> bool:
        return self.closed_at is None

    @property
    def met(self) -> bool | None:
        """True: done in time; False: missed; None: still open, or the case moved on before it was due."""
        if self.missed:
            return False
        if self.cancelled:
            return None
        return True if self.closed_at is not None else None


class DeadlineRef(Model):
    """What an event says of a deadline it opened, met or missed."""

    kind: DeadlineKind
    unit_id: str
    due_at: datetime
    met: bool | None = None


class EventKind(StrEnum):
    intake = "intake"
    dispatch = "dispatch"
    sign = "sign"
    return_ = "return"
    return_approved = "return_approved"
    return_refused = "return_refused"
    redispatch = "redispatch"
    escalate = "escalate"
    auto_escalate = "auto_escalate"
    whistle = "whistle"
    report = "report"
    contact = "contact"
    release = "release"
    rate_departments = "rate_departments"
    whistle_closed = "whistle_closed"
    extension_requested = "extension_requested"
    extension_approved = "extension_approved"
    extension_refused = "extension_refused"
    suspend = "suspend"
    resume = "resume"
    reply = "reply"
    rate = "rate"
    reopen = "reopen"
    to_supervisor = "to_supervisor"
    urge = "urge"
    supervise = "supervise"
    public_notice = "public_notice"
    overdue = "overdue"
    remind = "remind"
    withdraw = "withdraw"
    merge = "merge"
    merged_in = "merged_in"
    reject = "reject"
    close = "close"


EVENT_LABEL: dict[EventKind, str] = {
    EventKind.intake: "受理",
    EventKind.dispatch: "派单",
    EventKind.sign: "签收",
    EventKind.return_: "退单",
    EventKind.return_approved: "退单通过",
    EventKind.return_refused: "退单驳回",
    EventKind.redispatch: "改派",
    EventKind.escalate: "上报",
    EventKind.auto_escalate: "超时自动上报",
    EventKind.whistle: "吹哨",
    EventKind.report: "报到",
    EventKind.contact: "对接",
    EventKind.release: "确认撤离",
    EventKind.rate_departments: "报到部门评价",
    EventKind.whistle_closed: "吹哨完结",
    EventKind.extension_requested: "申请延期",
    EventKind.extension_approved: "延期批准",
    EventKind.extension_refused: "延期驳回",
    EventKind.suspend: "挂账",
    EventKind.resume: "恢复办理",
    EventKind.reply: "办结",
    EventKind.rate: "回访评价",
    EventKind.reopen: "重办",
    EventKind.to_supervisor: "转督办处置",
    EventKind.urge: "催办",
    EventKind.supervise: "督办",
    EventKind.public_notice: "通报",
    EventKind.overdue: "超期",
    EventKind.remind: "提醒评价",
    EventKind.withdraw: "撤回",
    EventKind.merge: "合并",
    EventKind.merged_in: "重复诉求并入",
    EventKind.reject: "不予受理",
    EventKind.close: "销号",
}


class CaseEvent(Model):
    """One line of the domain timeline: who, which unit, what, when, and the deadline it touched."""

    seq: int
    at: datetime
    kind: EventKind
    actor: str
    unit_id: str | None = None
    tier: Tier | None = None
    text: str = Field(description="the line as staff read it, in Chinese")
    data: EventData | None = Field(default=None, description="what the event says beyond its text, by kind")
    deadline: DeadlineRef | None = None

    @model_validator(mode="before")
    @classmethod
    def _typed_data(cls, value: Any) -> Any:
        # Events recorded before payloads were typed carried a flat dict of strings.
        if isinstance(value, dict) and isinstance(value.get("data"), dict):
            kind = value.get("kind")
            value = {
                **value,
                "data": from_legacy(kind.value if isinstance(kind, EventKind) else str(kind), value["data"]),
            }
        return value


class Notice(Model):
    """A message someone must get: a unit, the supervisors, or the reporter (by vault ref, never by number)."""

    to: str = Field(description="a unit id, 'reporter', or 'supervisor'")
    text: str


class CasePolicy(Model):
    """The slice of the policy a case snapshots at intake; later policy changes do not touch it."""

    version: str
    urgency: Urgency
    limits: ClassLimits
    category: Category
    whistle: dict[WhistleKind, WhistleLimits]
    supervision: Supervision
    rating: RatingRules
    calendar: CalendarPolicy
    directory: Directory
    workdays: WorkingDays | None = Field(
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


class WhistleSummary(Model):
    n: int
    workflow_id: str
    kind: WhistleKind
    whistler: str
    departments: list[str]
    active: bool = True


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
    pending_notices: list[tuple[int, Notice]] = Field(default_factory=list)

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


class WhistleInput(Model):
    case_id: str
    n: int
    kind: WhistleKind
    whistler: str
    departments: list[str]
    names: dict[str, str] = Field(default_factory=dict, description="unit id → name, for the timeline")
    limits: WhistleLimits
    calendar: CalendarPolicy
    supervision: Supervision
    workdays: WorkingDays | None = None
    planned: list[Plan] | None = Field(
        default=None, description="report, contact and finish as the case planned them when it whistled (rule set 2)"
    )
    planned_at: datetime | None = None


class DepartmentState(Model):
    unit_id: str
    reported_at: datetime | None = None
    contacted_at: datetime | None = None
    released_at: datetime | None = None
    late_report: bool = False
    rating: DepartmentRating | None = None


class WhistleState(Model):
    """Everything a whistle knows; one object, as a case has `CaseState`."""

    departments: dict[str, DepartmentState]
    deadlines: list[Deadline] = Field(default_factory=list)
    ready: bool = Field(default=False, description="its deadlines are planned; departments may act")
    rated: bool = Field(default=False, description="the whistler has rated every department: the whistle is over")


class WhistleView(Model):
    case_id: str
    n: int
    kind: WhistleKind
    whistler: str
    departments: list[DepartmentState]
    deadlines: list[Deadline]
    done: bool


class WhistleResult(Model):
    n: int
    departments: list[DepartmentState]
