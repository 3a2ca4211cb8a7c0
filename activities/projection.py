"""The read model's writes for a case's new events, in the record activity's one transaction.

Every statement is idempotent per case id + event seq (insert-or-ignore, or an update to the same values), so
a retried activity writes nothing twice; statements are built once and executed with parameters.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Table, bindparam, false, update
from sqlalchemy.engine import Connection, Engine

from models import payloads as pl
from models.io import CaseRowData, RecordInput
from models.tables import CaseRow, CaseUnitRow, EventRow, ReporterRow, WhistleDepartmentRow
from models.timeline import CaseEvent, DeadlineKind, EventKind
from store.upsert import insert_or_ignore, upsert_unless_older
from store.vault import vault_row


def _table(model: Any) -> Table:
    table: Table = model.__table__
    return table


INTAKE_AS_GIVEN = ("description", "address", "lat", "lng", "media_url")
"""The intake as the channel posted it (Open311 reads it back as posted)."""


class Projection:
    def __init__(self, engine: Engine) -> None:
        # An older projection retried after a newer one must not roll the row back. The intake as given is
        # written again too, so a row recorded before its columns existed gets them with the case's next event.
        columns = [*CaseRowData.model_fields, *INTAKE_AS_GIVEN]
        self._case = upsert_unless_older(engine, _table(CaseRow), "case_id", "last_seq", columns)
        self._events = insert_or_ignore(engine, _table(EventRow), ("case_id", "seq"))
        self._reporter = insert_or_ignore(engine, _table(ReporterRow), ("ref",))
        self._units = insert_or_ignore(engine, _table(CaseUnitRow), ("case_id", "unit_id"))
        wd = _table(WhistleDepartmentRow)
        self._summons = insert_or_ignore(engine, wd, ("case_id", "n", "unit_id"))
        one = (wd.c.case_id == bindparam("b_case")) & (wd.c.n == bindparam("b_n"))
        dept = one & (wd.c.unit_id == bindparam("b_unit"))
        self._whistle_steps: dict[EventKind, Any] = {
            EventKind.report: update(wd)
            .where(dept)
            .values(checked_in_at=bindparam("b_at"), report_in_time=bindparam("b_met")),
            EventKind.contact: update(wd).where(dept).values(contacted_at=bindparam("b_at")),
            EventKind.release: update(wd).where(dept).values(released_at=bindparam("b_at")),
            EventKind.whistle_closed: update(wd).where(one).values(closed=True),
        }
        # A 报到 limit passed unreported is decided: not in time, as 报到率 counts it (a late 报到 keeps it so).
        self._report_missed = update(wd).where(dept & wd.c.checked_in_at.is_(None)).values(report_in_time=false())
        # The case's 销号 takes down its whistles still running (撤回, 合并): the workflow cancels them, and a
        # cancelled whistle tells the case nothing more, so its end is the case's.
        self._whistles_end = (
            update(wd).where((wd.c.case_id == bindparam("b_case")) & (wd.c.closed == false())).values(closed=True)
        )
        self._rating = (
            update(wd)
            .where(dept)
            .values(
                rated_at=bindparam("b_at"),
                speed=bindparam("b_speed"),
                cooperation=bindparam("b_cooperation"),
                result=bindparam("b_result"),
            )
        )

    def write(self, conn: Connection, inp: RecordInput) -> None:
        intake = inp.intake
        conn.execute(
            self._case,
            {
                "case_id": inp.case_id,
                "channel": intake.channel,
                "channel_ticket_id": intake.channel_ticket_id,
                "category": intake.category,
                "title": intake.title,
                "grid_id": intake.location.grid_id,
                "description": intake.description,
                "address": intake.location.address,
                "lat": intake.location.lat,
                "lng": intake.location.lng,
                "media_url": intake.attachments[0] if intake.attachments else None,
                "reporter_ref": intake.reporter.ref,
                "reported_at": intake.reported_at,
                "last_seq": max((e.seq for e in inp.events), default=0),
                **inp.row.model_dump(),
            },
        )
        if inp.reporter is not None:
            conn.execute(self._reporter, vault_row(inp.case_id, inp.reporter))
        if not inp.events:
            return
        conn.execute(self._events, [_event_row(inp.case_id, e) for e in inp.events])
        units = sorted({u for e in inp.events for u in _units_of(e)})
        if units:
            conn.execute(self._units, [{"case_id": inp.case_id, "unit_id": u} for u in units])
        for e in inp.events:
            self._whistle(conn, inp.case_id, e)

    def _whistle(self, conn: Connection, case_id: str, e: CaseEvent) -> None:
        """吹哨 and what its departments do, as the whistle told the case."""
        data = e.data
        if isinstance(data, pl.Whistled):
            rows = [
                {
                    "case_id": case_id,
                    "n": data.n,
                    "unit_id": d,
                    "kind": data.kind.value,
                    "whistler": e.unit_id or "",
                    "summoned_at": e.at,
                    "report_due": data.report_due,
                    "contact_due": data.contact_due,
                    "finish_due": data.finish_due,
                }
                for d in data.departments
            ]
            if rows:
                conn.execute(self._summons, rows)
        elif isinstance(data, pl.WhistleStep) and e.kind is EventKind.overdue:
            if e.deadline is not None and e.deadline.kind is DeadlineKind.report:
                conn.execute(self._report_missed, {"b_case": case_id, "b_n": data.whistle, "b_unit": e.unit_id})
        elif isinstance(data, pl.WhistleStep) and e.kind in self._whistle_steps:
            met = e.deadline.met if e.deadline else None
            key = {"b_case": case_id, "b_n": data.whistle, "b_unit": e.unit_id}
            conn.execute(self._whistle_steps[e.kind], {**key, "b_at": e.at, "b_met": met})
        elif isinstance(data, pl.Closed):
            conn.execute(self._whistles_end, {"b_case": case_id})
        elif isinstance(data, pl.DepartmentsRated) and data.ratings:
            conn.execute(
                self._rating,
                [
                    {
                        "b_case": case_id,
                        "b_n": data.whistle,
                        "b_unit": r.department,
                        "b_at": e.at,
                        "b_speed": r.speed,
                        "b_cooperation": r.cooperation,
                        "b_result": r.result,
                    }
                    for r in data.ratings
                ],
            )


def _units_of(e: CaseEvent) -> list[str]:
    """The units an event involves: its own, and the assisting or summoned units it names."""
    units = [e.unit_id] if e.unit_id else []
    if isinstance(e.data, pl.Dispatch):
        units += e.data.assisting
    elif isinstance(e.data, pl.Whistled):
        units += e.data.departments
    return units


def _event_row(case_id: str, e: CaseEvent) -> dict[str, Any]:
    return {
        "case_id": case_id,
        "seq": e.seq,
        "at": e.at,
        "kind": e.kind.value,
        "actor": e.actor,
        "unit_id": e.unit_id,
        "tier": e.tier.value if e.tier else None,
        "text": e.text,
        "data": e.data.model_dump(mode="json") if e.data else {},
        "deadline_kind": e.deadline.kind.value if e.deadline else None,
        "deadline_due": e.deadline.due_at if e.deadline else None,
        "deadline_met": e.deadline.met if e.deadline else None,
    }
