"""A case's whistles' deadlines as its closure record keeps them: each summoned department's 报到, 对接 and 完成
limits, met or missed and who was charged, read from the timeline the whistles told the case."""

from __future__ import annotations

from models import payloads as pl
from models.case import DeadlineRecord
from models.timeline import CaseEvent, DeadlineKind, EventKind

CLOSURE_WHISTLES_PATCH = "closure-keeps-whistle-deadlines"
WHISTLE_KINDS = (DeadlineKind.report, DeadlineKind.contact, DeadlineKind.finish)


def whistle_deadlines(events: list[CaseEvent]) -> list[DeadlineRecord]:
    """One record per department and limit of each whistle the case planned (rule set 2). A miss stands once
    recorded; a limit its department met closes when it did; one the whistle ended before (a department let go,
    the case struck off) stays neither met nor missed."""
    records: dict[tuple[int, str, DeadlineKind], DeadlineRecord] = {}
    for e in events:
        if isinstance(e.data, pl.Whistled):
            due = (e.data.report_due, e.data.contact_due, e.data.finish_due)
            for unit_id in e.data.departments:
                for kind, due_at in zip(WHISTLE_KINDS, due, strict=True):
                    if due_at is not None:
                        records[(e.data.n, unit_id, kind)] = DeadlineRecord(
                            kind=kind, unit_id=unit_id, started_at=e.at, due_at=due_at, closed_at=None, met=None
                        )
        elif isinstance(e.data, pl.WhistleStep) and e.deadline is not None:
            record = records.get((e.data.whistle, e.deadline.unit_id, e.deadline.kind))
            if record is None:
                continue
            if e.kind is EventKind.overdue:
                record.met, record.missed_by = False, e.deadline.unit_id
            elif e.kind in (EventKind.report, EventKind.contact, EventKind.release) and record.closed_at is None:
                record.closed_at = e.at
                if record.met is None:
                    record.met = e.deadline.met
    return list(records.values())
