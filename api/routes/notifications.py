"""A case's notifications for supervisors: each message on each channel, its attempts and state; resend."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Literal

from fastapi import APIRouter, Path
from pydantic import AwareDatetime, BaseModel, Field

from api.deps import PartsDep, SessionDep, SupervisorDep, readable
from api.errors import ApiError, not_found
from api.schemas import MAX_ID
from models.errors import ErrorCode
from notifications.outbox import Entry, Outbox
from notifications.policy import REPORTER

router = APIRouter(prefix="/cases", tags=["notifications"])


class NotificationPublic(BaseModel):
    id: int = Field(description="the message; `POST .../notifications/{id}/resend` queues what failed of it again")
    key: str = Field(description="its idempotency key on every channel: <case id>:<event seq>:<index>")
    recipient: str = Field(description="a unit id, 'supervisor', or 'reporter'")
    channel: str | None = Field(description="the channel in policy/notifications.toml, 'webhook', or none")
    provider: str | None = Field(description="wecom, dingtalk, sms or webhook")
    text: str
    state: Literal["queued", "pending", "delivered", "dead", "no_channel"] = Field(
        description="queued: not routed yet; pending: being sent or waiting to retry; dead: given up, resendable; "
        "no_channel: no channel serves its recipient, or the one it was routed to is no longer configured (a resend "
        "routes it anew)"
    )
    attempts: int
    resent: int = Field(description="sends after one never confirmed (a dispatcher died): possible duplicates")
    last_error: str | None
    created_at: AwareDatetime
    next_attempt_at: AwareDatetime | None
    delivered_at: AwareDatetime | None
    dead_at: AwareDatetime | None


class NotificationsPublic(BaseModel):
    data: list[NotificationPublic]
    count: int


def public(entries: list[Entry]) -> NotificationsPublic:
    data = [
        NotificationPublic(
            id=e.notification_id,
            key=e.key,
            # the vault reference is internal, as in every case view
            recipient=REPORTER if e.recipient.startswith(f"{REPORTER}:") else e.recipient,
            channel=e.channel,
            provider=e.provider,
            text=e.text,
            state=e.state,
            attempts=e.attempts,
            resent=e.resent,
            last_error=e.last_error,
            created_at=e.created_at,
            next_attempt_at=e.next_at,
            delivered_at=e.delivered_at,
            dead_at=e.dead_at,
        )
        for e in entries
    ]
    return NotificationsPublic(data=data, count=len(data))


@router.get("/{case_id}/notifications", response_model=NotificationsPublic, summary="诉求的通知及投递情况（督办）")
def case_notifications(
    case_id: str, parts: PartsDep, session: SessionDep, principal: SupervisorDep
) -> NotificationsPublic:
    readable(session, principal, case_id)
    return public(Outbox(parts.engine).for_case(case_id))


@router.post(
    "/{case_id}/notifications/{notification_id}/resend",
    response_model=NotificationsPublic,
    summary="重发投递失败的通知（督办）",
)
def resend_notification(
    case_id: str,
    notification_id: Annotated[int, Path(ge=1, le=MAX_ID, description="the message's id in the list")],
    parts: PartsDep,
    session: SessionDep,
    principal: SupervisorDep,
) -> NotificationsPublic:
    readable(session, principal, case_id)
    outbox = Outbox(parts.engine)
    queued = outbox.resend(case_id, notification_id, datetime.now(UTC))
    if queued is None:
        raise not_found("通知")
    if queued == 0:
        raise ApiError(409, ErrorCode.wrong_state, "该通知没有投递失败或无渠道的记录，无需重发")
    return public([e for e in outbox.for_case(case_id) if e.notification_id == notification_id])
