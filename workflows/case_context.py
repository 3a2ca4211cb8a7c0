"""What every step of a case works on: its state, its deadline book, and the mechanics the steps share.

A step (`workflows/case_steps/`) reads the case through this object and changes it only through `event`,
`assign`, `close` and the state itself; the workflow projects the result once per action or timer point.
"""

from __future__ import annotations

import asyncio
from datetime import datetime, timedelta
from typing import Any

from pydantic import ValidationError
from temporalio import workflow
from temporalio.common import SearchAttributeUpdate

from models import payloads as pl
from models import search
from models.case import (
    RULES_2026_12,
    STATUS_LABEL,
    CaseInput,
    CasePolicy,
    CaseState,
    CaseView,
    ClosureRecord,
    DeadlineRecord,
    Outcome,
    Status,
    UnitRecord,
)
from models.errors import ErrorCode
from models.inputs import SYSTEM, Actor
from models.io import CaseRowData, RecordInput
from models.policy import Directory, Limit, Tier, Unit
from models.timeline import EVENT_LABEL, CaseEvent, DeadlineKind, DeadlineRef, EventKind, Plan
from workflows import case_texts as say
from workflows.case_texts import Line, assigned, closed
from workflows.common import ACTIVITY_RETRY, ACTIVITY_TIMEOUT, plan, reject
from workflows.deadlines import DeadlineBook
from workflows.timer import MovableTimer
from workflows.whistle_deadlines import CLOSURE_WHISTLES_PATCH, whistle_deadlines

RECENT_REQUESTS = 200
RULES_2026_12_PATCH = "case-rules-2026-12"
PENDING_LAPSES_PATCH = "pending-lapses-when-case-moves"
DEFAULT_UTC_OFFSET = timedelta(hours=8)
"""Cases opened before they carried their calendar were all Beijing time."""


class CaseContext:
    def __init__(self, inp: CaseInput) -> None:
        if inp.state is None:
            self.s = CaseState(case_id=inp.case_id, intake=inp.intake)
            # The 受理 service names the rule set; a case started without it asks a marker, so that one opened
            # before rule set 2 replays (and runs on) as it was recorded.
            if inp.rules is not None:
                self.s.rules = inp.rules
            else:
                self.s.rules = RULES_2026_12 if workflow.patched(RULES_2026_12_PATCH) else 1
        else:
            self.s = inp.state
        self.book = DeadlineBook(self.s.deadlines)
        # Never in the state: the token answers only the start-and-wait, the sealed reporter goes to the vault once.
        self.intake_token = inp.intake_token
        self.sealed_reporter = inp.sealed_reporter
        self.lock = asyncio.Lock()
        self.timer = MovableTimer(keep=self.s.rules >= RULES_2026_12)
        self.attributes: dict[str, object] = {}
        """The search attributes as last written in this run (rule set 2 writes only what changed)."""

    # ------------------------------------------------------------------------------------------ reading

    @property
    def policy(self) -> CasePolicy:
        if self.s.policy is None:
            raise reject(ErrorCode.not_ready, "该诉求正在受理派单，请稍后再试")
        return self.s.policy

    @property
    def charged(self) -> bool:
        """Rule set 2: who is charged as DOMAIN.md decided in 2026-12 (`RULES_2026_12`)."""
        return self.s.rules >= RULES_2026_12

    @property
    def holder(self) -> str:
        assert self.s.holder is not None
        return self.s.holder

    def name(self, unit_id: str | None) -> str:
        if unit_id is None:
            return "—"
        unit = self.s.policy.directory.get(unit_id) if self.s.policy else None
        return unit.name if unit else unit_id

    def brought(self, units: tuple[Unit, ...]) -> Directory:
        """The case's part of the directory with the chains an action brings; a chain that does not hang
        together brings nothing."""
        try:
            return self.policy.directory.with_units(units)
        except ValidationError:
            return self.policy.directory

    def learn(self, units: tuple[Unit, ...]) -> None:
        """Carry the units an action brings that the case did not know (a new holder's chain, a department)."""
        directory = self.brought(units)
        if directory is not self.policy.directory:
            self.s.policy = self.policy.model_copy(update={"directory": directory})

    def tier_of(self, unit_id: str) -> Tier:
        unit = self.policy.directory.get(unit_id)
        return unit.tier if unit else Tier.department

    def brief(self) -> str:
        return f"{self.s.case_id}“{self.s.intake.title}”"

    def local(self, at: datetime) -> str:
        """A time as the city's staff read it, at the case's own UTC offset (no tz database in the sandbox)."""
        workdays = self.s.policy.workdays if self.s.policy else None
        offset = timedelta(minutes=workdays.utc_offset_minutes) if workdays else DEFAULT_UTC_OFFSET
        return (at + offset).strftime("%Y-%m-%d %H:%M")

    # ------------------------------------------------------------------------------------------ writing

    def event(
        self,
        kind: EventKind,
        actor: Actor | None,
        unit_id: str | None,
        line: Line,
        *,
        data: pl.EventData | None = None,
        deadline: DeadlineRef | None = None,
        actor_label: str | None = None,
    ) -> None:
        seq = len(self.s.events) + 1
        tier = self.tier_of(unit_id) if unit_id and self.s.policy else None
        self.s.events.append(
            CaseEvent(
                seq=seq,
                at=workflow.now(),
                kind=kind,
                actor=actor_label or (actor.label() if actor else "system"),
                unit_id=unit_id,
                tier=tier,
                text=line.text,
                data=data,
                deadline=deadline,
            )
        )
        self.s.pending_notices.extend((seq, n) for n in line.notices)

    async def plan(self, *items: tuple[datetime, Limit]) -> list[Plan]:
        p = self.policy
        return await plan(items, p.calendar, p.supervision, p.workdays)

    async def assign(
        self,
        unit_id: str,
        tier: Tier,
        *,
        announce: bool = True,
        reply_limit: Limit | None = None,
        reopen: int | None = None,
    ) -> None:
        """The case arrives at a unit: it must sign, and a climbing tier gets its slice of the reply limit;
        `reopen` numbers a 重办 (with `reply_limit`), which the unit is told as such."""
        now = workflow.now()
        p = self.policy
        self.hold(unit_id, tier, Status.dispatched)
        if reply_limit is None and self.book.find(DeadlineKind.reply) is None:
            # Back from 重办 or the supervisor: the unit gets a fresh reply limit of its own.
            reply_limit = p.rating.reopen_limit
        wants: list[tuple[DeadlineKind, Limit]] = [(DeadlineKind.sign, p.limits.sign)]
        if reply_limit is not None:
            wants.append((DeadlineKind.reply, reply_limit))
        elif tier in p.limits.tier_slices:
            wants.append((DeadlineKind.tier, p.limits.tier_slices[tier]))
        plans = await self.plan(*((now, limit) for _, limit in wants))
        reply = self.book.find(DeadlineKind.reply)
        for (kind, _), planned in zip(wants, plans, strict=True):
            # Rule set 1 capped a slice at the reply limit, even one already past: a unit charged on arrival.
            if kind is DeadlineKind.tier and reply is not None and not self.charged and planned.due_at > reply.due_at:
                planned = Plan(
                    due_at=reply.due_at, urge_at=min(planned.urge_at, reply.urge_at), notice_at=reply.notice_at
                )
            self.book.add(kind, unit_id, now, planned)
        line = assigned(self, unit_id, (reopen, reply_limit) if reopen and reply_limit else None)
        if announce:
            self.event(EventKind.dispatch, SYSTEM, unit_id, line)
        else:
            # The intake's own dispatch event (already recorded) carries this unit's notice.
            self.s.pending_notices.extend((len(self.s.events), n) for n in line.notices)

    def hold(self, unit_id: str, tier: Tier, status: Status) -> None:
        """The case is now at `unit_id`; the whole-case 办结 limit goes with it (rule set 2)."""
        now = workflow.now()
        # An unsigned arrival that the case leaves is not a sign met; a tier left in time is.
        self.book.close(now, DeadlineKind.sign, cancel=True)
        self.book.close(now, DeadlineKind.tier)
        self._lapse_asked(unit_id)
        self.s.holder, self.s.tier, self.s.status = unit_id, tier, status
        reply = self.book.find(DeadlineKind.reply)
        if self.charged and reply is not None:
            reply.unit_id = unit_id

    def _lapse_asked(self, unit_id: str) -> None:
        """A 退单 or 延期 a unit asked for lapses once the case moves away from it: it asked about work no longer its
        own, and the approver it named may now hold the case. Cases that moved before this rule replay as they
        were recorded (`PENDING_LAPSES_PATCH`)."""
        s = self.s
        stale_return = s.pending_return is not None and s.pending_return.unit_id != unit_id
        stale_extension = s.pending_extension is not None and s.pending_extension.unit_id != unit_id
        if (stale_return or stale_extension) and workflow.patched(PENDING_LAPSES_PATCH):
            if stale_return:
                s.pending_return = None
            if stale_extension:
                s.pending_extension = None

    async def close(self, outcome: Outcome, actor: Actor, text: str, *, tell_resident: bool = True) -> None:
        """销号; `tell_resident=False` when the line before it told the resident already (不予受理, with its reason)."""
        now = workflow.now()
        self.book.close(now, *DeadlineKind, cancel=True)
        line = closed(self, outcome, text, actor_unit=actor.unit_id, tell_resident=tell_resident)
        self.s.status, self.s.outcome, self.s.closed_at = Status.closed, outcome, now
        self.s.pending_return = self.s.pending_extension = None
        self.event(EventKind.close, actor, self.s.holder, line, data=pl.Closed(outcome=outcome.value))
        for w in self.s.whistles:
            if w.active:
                # A case that ends (撤回, 合并) takes its whistle down with it.
                w.active = False
                await workflow.get_external_workflow_handle(w.workflow_id).cancel()

    def remember(self, request_id: str | None) -> None:
        """Only once done: a refused action (a merge whose target is gone) may be sent again with its key."""
        if request_id:
            self.s.request_ids = [*self.s.request_ids[-RECENT_REQUESTS + 1 :], request_id]

    async def project(self) -> None:
        """Write new events and notices to the read model and the outbox; refresh the search attributes."""
        s = self.s
        upto, notices = len(s.events), list(s.pending_notices)
        new = s.events[s.projected_seq : upto]
        if not new and not notices:
            return
        reply = next((d for d in reversed(s.deadlines) if d.kind is DeadlineKind.reply), None)
        replied_at = next((e.at for e in reversed(s.events) if e.kind is EventKind.reply), None)
        row = CaseRowData(
            status=s.status.value,
            holder=s.holder,
            awaiting=s.awaiting,
            tier=s.tier.value if s.tier else None,
            urgency=s.policy.urgency.value if s.policy else None,
            overdue=s.overdue,
            next_deadline=s.next_deadline,
            overdue_since=s.overdue_since,
            reply_due=reply.due_at if reply else None,
            replied_by=s.replied_by,
            replied_at=replied_at,
            rating=s.rating.level if s.rating else None,
            solved=s.rating.solved if s.rating else None,
            reopen_count=s.reopen_count,
            whistled=bool(s.whistles),
            outcome=s.outcome.value if s.outcome else None,
            closed_at=s.closed_at,
            policy_version=s.policy.version if s.policy else None,
        )
        await workflow.execute_local_activity(
            "record",
            RecordInput(
                case_id=s.case_id,
                intake=s.intake,
                row=row,
                events=new,
                notices=notices,
                reporter=self.sealed_reporter if s.projected_seq == 0 else None,
            ),
            start_to_close_timeout=ACTIVITY_TIMEOUT,
            retry_policy=ACTIVITY_RETRY,
        )
        # Events a signal added while the activity ran stay for the next projection.
        s.projected_seq, s.pending_notices = upto, s.pending_notices[len(notices) :]
        self.sealed_reporter = None
        self._search_attributes(row.urgency or "")
        # Not in the history: the Temporal Web UI shows it beside the case's summary.
        workflow.set_current_details(say.current_details(self))

    def _search_attributes(self, urgency: str) -> None:
        s = self.s
        values: dict[str, object] = {
            search.CASE_STATUS.name: s.status.value,
            search.CASE_UNIT.name: s.holder or "",
            search.CASE_TIER.name: s.tier.value if s.tier else "",
            search.CASE_URGENCY.name: urgency,
            search.CASE_CATEGORY.name: s.intake.category,
            search.CASE_OVERDUE.name: s.overdue,
            search.CASE_NEXT_DEADLINE.name: s.next_deadline,
        }
        if self.charged:
            changed = {k for k, v in values.items() if self.attributes.get(k, values) != v}
            if not changed:
                return
        else:
            changed = set(values)
        self.attributes.update(values)
        updates: list[SearchAttributeUpdate[Any]] = [
            search.CASE_STATUS.value_set(s.status.value),
            search.CASE_UNIT.value_set(s.holder or ""),
            search.CASE_TIER.value_set(s.tier.value if s.tier else ""),
            search.CASE_URGENCY.value_set(urgency),
            search.CASE_CATEGORY.value_set(s.intake.category),
            search.CASE_OVERDUE.value_set(s.overdue),
            search.CASE_NEXT_DEADLINE.value_set(s.next_deadline)
            if s.next_deadline
            else search.CASE_NEXT_DEADLINE.value_unset(),
        ]
        workflow.upsert_search_attributes([u for u in updates if u.key.name in changed])

    # ------------------------------------------------------------------------------------------ what readers see

    def view(self) -> CaseView:
        s = self.s
        return CaseView(
            case_id=s.case_id,
            status=s.status,
            status_label=STATUS_LABEL[s.status],
            channel=s.intake.channel,
            channel_ticket_id=s.intake.channel_ticket_id,
            category=s.intake.category,
            urgency=s.policy.urgency if s.policy else s.intake.urgency,
            title=s.intake.title,
            holder=s.holder,
            tier=s.tier,
            reporter=s.intake.reporter,
            reopen_count=s.reopen_count,
            rating=s.rating,
            overdue=s.overdue,
            next_deadline=s.next_deadline,
            deadlines=s.deadlines,
            pending_return=s.pending_return,
            pending_extension=s.pending_extension,
            whistles=s.whistles,
            outcome=s.outcome,
            closed_at=s.closed_at,
            policy_version=s.policy.version if s.policy else None,
            last_seq=len(s.events),
            recorded_seq=s.projected_seq,
        )

    def closure(self) -> ClosureRecord:
        s = self.s
        assert s.outcome is not None and s.closed_at is not None
        units: dict[str, list[str]] = {}
        for e in s.events:
            if e.unit_id and e.actor != "system":
                units.setdefault(e.unit_id, []).append(EVENT_LABEL[e.kind])
        return ClosureRecord(
            case_id=s.case_id,
            outcome=s.outcome,
            closed_at=s.closed_at,
            category=s.intake.category,
            urgency=s.policy.urgency if s.policy else None,
            rating=s.rating,
            reopen_count=s.reopen_count,
            replied_by=s.replied_by,
            reply=s.reply,
            units=[UnitRecord(unit_id=u, actions=a) for u, a in units.items()],
            deadlines=[
                DeadlineRecord(
                    kind=d.kind,
                    unit_id=d.unit_id,
                    started_at=d.started_at,
                    due_at=d.due_at,
                    closed_at=d.closed_at,
                    met=d.met,
                    missed_by=d.missed_by,
                )
                for d in s.deadlines
            ]
            + (whistle_deadlines(s.events) if s.whistles and workflow.patched(CLOSURE_WHISTLES_PATCH) else []),
            events=len(s.events),
            policy_version=s.policy.version if s.policy else None,
        )
