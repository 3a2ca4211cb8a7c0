"""Request and response bodies at the edge; the engine's own types are reused where they fit."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import Path
from pydantic import AfterValidator, AwareDatetime, BaseModel, ConfigDict, Field, StringConstraints, model_validator

from models.base import Ident, ShortText, Text, Url, storable
from models.case import CaseView
from models.intake import Location
from models.policy import Tier, Urgency
from models.timeline import DEADLINE_LABEL, CaseEvent, Deadline, DeadlineKind


def _this_century(at: datetime) -> datetime:
    # Year 1 or 9999 with an offset overflows once converted to UTC; no case lives outside these years.
    if not 2000 <= at.year < 2100:
        raise ValueError("时间须在2000年至2099年之间")
    return at


Timestamp = Annotated[AwareDatetime, AfterValidator(_this_century)]
"""A timezone-aware time this system can compute with."""
MAX_ID = 2**31 - 1
"""The largest id a read-model id column holds (a 32-bit integer on PostgreSQL; SQLite's is 64-bit)."""
WhistleNumber = Annotated[int, Path(ge=1, le=MAX_ID, description="the case's whistle: 1 for its first")]


def public_view(view: CaseView, *, reporter: bool = True) -> CaseView:
    """A case as a reader sees it: the reporter's vault reference is internal; the masked phone only for those
    who may contact the reporter (`services.queries.sees_reporter`), and no digit of it, to anyone, when the
    reporter asked for confidentiality."""
    shown = reporter and not view.reporter.confidential
    masked = view.reporter.masked_phone if shown else None
    return view.model_copy(update={"reporter": view.reporter.model_copy(update={"ref": None, "masked_phone": masked})})


class Body(BaseModel):
    model_config = ConfigDict(extra="forbid")


class ReporterIn(Body):
    name: Annotated[str, storable(1, 50)] | None = None
    phone: Annotated[str, StringConstraints(strip_whitespace=True, pattern=r"^[0-9\- ]{7,20}$")] | None = None
    confidential: bool = Field(default=False, description="保密：承办单位也看不到姓名和电话")

    @model_validator(mode="after")
    def _phone_with_name(self) -> ReporterIn:
        if self.name and not self.phone:
            raise ValueError("提供姓名时须同时提供电话")
        return self


class CaseCreate(Body):
    """受理 as a channel submits it; the channel is the caller."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "channel_ticket_id": "12345-20261201-0001",
                    "category": "illegal_construction",
                    "title": "楼顶违建",
                    "description": "多福巷5号楼顶正在搭建彩钢房",
                    "location": {"grid_id": "grid-a1-1", "address": "多福巷5号", "lat": 39.9163, "lng": 116.4045},
                    "reporter": {"name": "张三", "phone": "13912345678", "confidential": False},
                }
            ]
        },
    )

    channel_ticket_id: Ident
    category: Ident
    title: ShortText
    description: Text
    location: Location
    urgency: Urgency | None = None
    reporter: ReporterIn = ReporterIn()
    attachments: list[Url] = Field(default_factory=list, max_length=20)
    reported_at: AwareDatetime | None = Field(default=None, description="默认为提交时间")


class DeadlinePublic(BaseModel):
    kind: DeadlineKind
    label: str
    unit_id: str
    due_at: datetime
    met: bool | None
    open: bool

    @classmethod
    def of(cls, d: Deadline) -> DeadlinePublic:
        return cls(
            kind=d.kind, label=DEADLINE_LABEL[d.kind], unit_id=d.unit_id, due_at=d.due_at, met=d.met, open=d.open
        )


class CaseCreated(BaseModel):
    case_id: str
    created: bool = Field(description="false: this channel's ticket was already a case, nothing new was started")
    status: str
    holder: str | None
    deadlines: list[DeadlinePublic]


class CaseDetail(BaseModel):
    case: CaseView
    deadlines: list[DeadlinePublic]
    ui_url: str = Field(description="the case's raw workflow history in the Temporal Web UI")


class Timeline(BaseModel):
    case_id: str
    data: list[CaseEvent]
    count: int
    ui_url: str


class CaseSummary(BaseModel):
    case_id: str
    channel: str
    category: str
    urgency: str | None
    title: str
    status: str
    holder: str | None
    tier: str | None
    overdue: bool
    next_deadline: datetime | None
    reported_at: datetime
    reply_due: datetime | None
    outcome: str | None
    closed_at: datetime | None


class CasesPublic(BaseModel):
    data: list[CaseSummary]
    count: int


class ReporterPublic(BaseModel):
    case_id: str
    name: str
    phone: str


class PreviewDeadline(BaseModel):
    kind: str = Field(description="dispatch, sign, reply, or tier:<tier> for a tier's slice of the reply limit")
    label: str
    limit: str
    due_at: datetime
    starts_at: datetime | None = Field(
        default=None, description="when it starts counting: a tier's slice when the slice below runs out"
    )
    tier: Tier | None = Field(default=None, description="the tier it is for (None: the whole case's)")


class DeadlinePreview(BaseModel):
    category: str
    urgency: Urgency
    start: datetime
    rule: str | None = Field(
        default=None, description="派单 rule: 属地 (the grid), 属主 (the owner), 兜底 (the street)"
    )
    lead_tier: Tier | None = Field(default=None, description="the tier the case goes to first")
    deadlines: list[PreviewDeadline]
