"""A case's deadlines and its timeline: each limit with its 催办, 超期 and 通报 points, each event of the audit
trail, and the messages that go out with them.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

from pydantic import Field, model_validator

from models.base import Model
from models.payloads import EventData, from_legacy
from models.policy import (
    Tier,
)


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


TIER_LABEL: dict[Tier, str] = {
    Tier.grid: "网格",
    Tier.community: "社区",
    Tier.street: "街道",
    Tier.department: "部门",
    Tier.district: "区",
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


class Message(Model):
    """A message someone must get: a unit, the supervisors, or the reporter (by vault ref, never by number)."""

    to: str = Field(description="a unit id, 'reporter', or 'supervisor'")
    text: str
