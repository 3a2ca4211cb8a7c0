"""The SQL read model: what lists, queues and statistics read. Workflows never import this module."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Index, UniqueConstraint
from sqlmodel import JSON, Column, Field, SQLModel


class CaseRow(SQLModel, table=True):
    __tablename__ = "cases"

    case_id: str = Field(primary_key=True)
    channel: str = Field(index=True)
    channel_ticket_id: str
    category: str = Field(index=True)
    urgency: str | None = None
    title: str
    grid_id: str
    description: str | None = Field(default=None, description="as the channel gave it (None: recorded before 0002)")
    address: str | None = None
    lat: float | None = None
    lng: float | None = None
    media_url: str | None = Field(default=None, description="the first attachment")
    reporter_ref: str | None = None
    status: str = Field(index=True)
    holder: str | None = Field(default=None, index=True)
    awaiting: str | None = Field(default=None, index=True, description="approver of a pending 退单 or 延期")
    tier: str | None = Field(default=None, index=True)
    overdue: bool = Field(default=False, index=True)
    next_deadline: datetime | None = None
    overdue_since: datetime | None = Field(default=None, description="the earliest limit missed and still open")
    reported_at: datetime
    reply_due: datetime | None = None
    replied_by: str | None = None
    replied_at: datetime | None = None
    rating: str | None = None
    solved: bool | None = None
    reopen_count: int = 0
    whistled: bool = False
    outcome: str | None = Field(default=None, index=True)
    closed_at: datetime | None = None
    last_seq: int = 0
    policy_version: str | None = None


class EventRow(SQLModel, table=True):
    __tablename__ = "case_events"
    __table_args__ = (UniqueConstraint("case_id", "seq"),)

    id: int | None = Field(default=None, primary_key=True)
    case_id: str = Field(index=True)
    seq: int
    at: datetime = Field(index=True)
    kind: str = Field(index=True)
    actor: str
    unit_id: str | None = Field(default=None, index=True)
    tier: str | None = None
    text: str
    data: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON), description="the typed payload")
    deadline_kind: str | None = None
    deadline_due: datetime | None = None
    deadline_met: bool | None = None


class CaseUnitRow(SQLModel, table=True):
    """Every unit a case involved: holders, the units it passed through, assisting and summoned units.

    Who may read a case (DOMAIN.md): these units, its channel and supervisors."""

    __tablename__ = "case_units"

    case_id: str = Field(primary_key=True)
    unit_id: str = Field(primary_key=True, index=True)


class WhistleDepartmentRow(SQLModel, table=True):
    """A department a whistle summoned: its deadlines, when it reported (in time or not), was released, rated."""

    __tablename__ = "whistle_departments"

    case_id: str = Field(primary_key=True)
    n: int = Field(primary_key=True)
    unit_id: str = Field(primary_key=True, index=True)
    kind: str
    whistler: str
    summoned_at: datetime
    report_due: datetime | None = None
    contact_due: datetime | None = None
    finish_due: datetime | None = None
    checked_in_at: datetime | None = Field(default=None, description="报到")
    report_in_time: bool | None = None
    contacted_at: datetime | None = None
    released_at: datetime | None = None
    rated_at: datetime | None = Field(default=None, description="when the whistler rated it (双考核), 1–5 each:")
    speed: int | None = None
    cooperation: int | None = None
    result: int | None = None
    closed: bool = Field(default=False, index=True, description="the whistle is over")


class NotificationRow(SQLModel, table=True):
    """The outbox: one row per message; (case_id, seq, idx) makes a retried activity a no-op.

    The case only writes it. The notification dispatcher (`notifications/`) routes it to its channels
    (`routed_at`) and delivers it through a `NotificationDeliveryRow` per channel.
    """

    __tablename__ = "notifications"
    __table_args__ = (UniqueConstraint("case_id", "seq", "idx"),)

    id: int | None = Field(default=None, primary_key=True)
    case_id: str = Field(index=True)
    seq: int
    idx: int
    recipient: str = Field(index=True)
    text: str
    created_at: datetime
    routed_at: datetime | None = Field(default=None, index=True)


class NotificationDeliveryRow(SQLModel, table=True):
    """One message on one channel: its state, attempts and lease.

    A lane is (case_id, recipient, channel): within it, messages go out in outbox order (`notification_id`
    ascends with the case's seq and idx, since a case writes its notices in order). `claimed_until` is the
    lease of the dispatcher sending it; `sending_since` marks a send begun and not yet confirmed, so a send
    after a crash is known as a possible duplicate (`resent`).
    """

    __tablename__ = "notification_deliveries"
    __table_args__ = (
        UniqueConstraint("notification_id", "channel"),
        Index("ix_notification_deliveries_lane", "case_id", "recipient", "channel", "state", "notification_id"),
    )

    id: int | None = Field(default=None, primary_key=True)
    notification_id: int = Field(foreign_key="notifications.id", index=True)
    case_id: str
    recipient: str
    channel: str
    provider: str
    state: str = Field(index=True, description="pending, delivered, dead or no_channel")
    attempts: int = 0
    failures: int = Field(default=0, description="failed attempts that count toward the policy's limit")
    resent: int = Field(default=0, description="sends after a send that was begun and never confirmed")
    next_at: datetime
    claimed_until: datetime | None = None
    claimed_by: str | None = Field(default=None, index=True)
    sending_since: datetime | None = None
    last_error: str | None = None
    created_at: datetime
    delivered_at: datetime | None = None
    dead_at: datetime | None = None


class ReporterRow(SQLModel, table=True):
    """The reporter vault: name and phone encrypted at rest, referenced from cases by `ref`."""

    __tablename__ = "reporters"

    ref: str = Field(primary_key=True)
    case_id: str | None = Field(default=None, unique=True, index=True, description="the one case it belongs to")
    name_enc: str
    phone_enc: str
    masked_phone: str
    confidential: bool = False
    created_at: datetime


class ApiKey(SQLModel, table=True):
    """An API key belongs to one actor; only its SHA-256 is stored."""

    __tablename__ = "api_keys"

    key_hash: str = Field(primary_key=True)
    role: str = Field(index=True)
    actor_id: str = Field(index=True)
    unit_id: str | None = None
    label: str = ""
    created_at: datetime
    revoked_at: datetime | None = None


class RevealAudit(SQLModel, table=True):
    """Every time a reporter's name and phone are shown, who saw them, for which case, and when."""

    __tablename__ = "reveal_audit"

    id: int | None = Field(default=None, primary_key=True)
    case_id: str = Field(index=True)
    reporter_ref: str
    actor: str
    unit_id: str | None = None
    at: datetime
    request_id: str | None = None


class ConsoleAccount(SQLModel, table=True):
    """A person who logs in to the console: bound to one unit, to the supervisor unit, or to a channel."""

    __tablename__ = "console_accounts"

    username: str = Field(primary_key=True)
    name: str
    role: str = Field(description="unit, supervisor or channel")
    unit_id: str | None = Field(default=None, description="the unit a unit member or supervisor acts for")
    channel_id: str | None = Field(default=None, description="the channel an operator takes cases for")
    password_hash: str = Field(description="argon2id")
    failed_logins: int = Field(default=0, description="consecutive failed logins since the last success")
    locked_until: datetime | None = None
    sessions_valid_after: datetime | None = Field(default=None, description="logout ends every earlier session")
    demo: bool = Field(default=False, description="seeded by the demo; removed when the API runs without it")
    created_at: datetime
    last_login_at: datetime | None = None
