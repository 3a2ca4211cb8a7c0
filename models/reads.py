"""What the read model answers (`services/queries.py`): a unit's to-do list, a whistle as the record has it."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, Field

from models.whistle import WhistleView


class QueueItem(BaseModel):
    case_id: str
    title: str
    status: str
    todo: str = Field(description="what the unit must do: 签收, 办理, 审核退单, 审批延期, 报到 ...")
    due_at: datetime | None = Field(description="by when (the deadline the item waits on)")
    seconds_left: int | None = Field(description="until due_at; negative once overdue")
    whistle: int | None = None


class Queue(BaseModel):
    unit_id: str
    data: list[QueueItem]
    count: int


class SummonedDepartment(BaseModel):
    unit_id: str
    name: str
    report_due: datetime | None
    checked_in_at: datetime | None = Field(description="报到: when the department reported for the whistle")
    report_in_time: bool | None = Field(
        description="true: reported in time; false: reported late, or its limit passed unreported; None: neither yet"
    )
    contact_due: datetime | None
    contacted_at: datetime | None
    finish_due: datetime | None
    released_at: datetime | None
    rated_at: datetime | None = Field(description="when the whistler rated it (双考核), 1–5 on each of:")
    speed: int | None
    cooperation: int | None
    result: int | None


class WhistleRecord(BaseModel):
    case_id: str
    n: int
    kind: str
    whistler: str
    summoned_at: datetime
    closed: bool = Field(description="every department released and rated")
    departments: list[SummonedDepartment]

    def with_live(self, view: WhistleView) -> WhistleRecord:
        """This record with the running whistle's own state over it. The read model takes a whistle's step in
        the case's next workflow task; the whistle has it the moment its action is answered."""
        live = {d.unit_id: d for d in view.departments}
        departments = []
        for d in self.departments:
            s = live.get(d.unit_id)
            if s is None:
                departments.append(d)
                continue
            rated = s.rating.model_dump(include={"speed", "cooperation", "result"}) if s.rating else {}
            departments.append(
                d.model_copy(
                    update={
                        "checked_in_at": s.checked_in_at,
                        "report_in_time": d.report_in_time if s.checked_in_at is None else not s.late_report,
                        "contacted_at": s.contacted_at,
                        "released_at": s.released_at,
                        **rated,
                    }
                )
            )
        return self.model_copy(update={"departments": departments, "closed": self.closed or view.done})


class RevealRecord(BaseModel):
    """One look at a reporter's name and phone: who, for which case, when."""

    case_id: str
    actor: str
    unit_id: str | None
    at: datetime
    request_id: str | None


class RevealsPublic(BaseModel):
    data: list[RevealRecord]
    count: int
