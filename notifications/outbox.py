"""Every read and write of the outbox (`notifications`) and its deliveries (`notification_deliveries`).

Statements are single and atomic on SQLite and PostgreSQL alike: a claim is one UPDATE whose subquery picks
the heads of free lanes (`FOR UPDATE SKIP LOCKED` on PostgreSQL, so two dispatchers pass each other by; SQLite
runs one writer at a time), marked with a token used once; every later write of a claimed row names that
token, so a dispatcher whose lease ran out and was taken over writes nothing.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Table, case, exists, func, or_, select, update
from sqlalchemy.engine import Engine

from models.tables import NotificationDeliveryRow, NotificationRow
from store.upsert import insert_or_ignore

PENDING, DELIVERED, DEAD, NO_CHANNEL = "pending", "delivered", "dead", "no_channel"
STATES = (PENDING, DELIVERED, DEAD, NO_CHANNEL)
NONE = ""  # the channel of a no_channel row

MESSAGES: Table = NotificationRow.__table__  # type: ignore[attr-defined]
DELIVERIES: Table = NotificationDeliveryRow.__table__  # type: ignore[attr-defined]


def aware(at: datetime | None) -> datetime | None:
    """A datetime read back from the database, in UTC (SQLite gives it back without its offset)."""
    if at is None:
        return None
    return at if at.tzinfo else at.replace(tzinfo=UTC)


def message_key(case_id: str, seq: int, idx: int) -> str:
    """The stable id of a message and its idempotency key on every channel."""
    return f"{case_id}:{seq}:{idx}"


@dataclass(frozen=True)
class Claimed:
    id: int
    channel: str
    case_id: str
    recipient: str
    key: str
    text: str
    created_at: datetime
    failures: int
    unconfirmed: bool
    """An earlier send was begun and never confirmed (its dispatcher died or lost its lease): this one may be
    a duplicate."""


@dataclass(frozen=True)
class Entry:
    """One line of a case's notifications as a supervisor reads it: a message on one channel."""

    notification_id: int
    key: str
    recipient: str
    text: str
    created_at: datetime
    channel: str | None
    provider: str | None
    state: str
    attempts: int
    resent: int
    last_error: str | None
    next_at: datetime | None
    delivered_at: datetime | None
    dead_at: datetime | None


class Outbox:
    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.postgres = engine.dialect.name == "postgresql"
        self._insert = insert_or_ignore(engine, DELIVERIES, ("notification_id", "channel"))

    # ------------------------------------------------------------------------------------------ routing

    def route(self, channels_for: Callable[[str], Sequence[tuple[str, str]]], now: datetime, limit: int = 500) -> int:
        """Give messages not routed yet a delivery row per channel, in outbox order (`channels_for(recipient)`
        gives (channel, provider) pairs).

        A message no channel serves gets one `no_channel` row, so it stays visible and counted.
        """
        m = MESSAGES.c
        with self.engine.connect() as conn:
            rows = conn.execute(
                select(m.id, m.case_id, m.recipient, m.created_at)
                .where(m.routed_at.is_(None))
                .order_by(m.id)
                .limit(limit)
            ).all()
        if not rows:
            return 0
        deliveries: list[dict[str, Any]] = []
        for row in rows:
            names: Sequence[tuple[str, str]] = channels_for(row.recipient) or [(NONE, "none")]
            for channel, provider in names:
                deliveries.append(
                    {
                        "notification_id": row.id,
                        "case_id": row.case_id,
                        "recipient": row.recipient,
                        "channel": channel,
                        "provider": provider,
                        "state": PENDING if channel else NO_CHANNEL,
                        "next_at": now,
                        "created_at": row.created_at,
                    }
                )
        with self.engine.begin() as conn:
            conn.execute(self._insert, deliveries)
            conn.execute(update(MESSAGES).where(m.id.in_([r.id for r in rows])).values(routed_at=now))
        return len(rows)

    # ------------------------------------------------------------------------------------------ claims

    def claim(
        self, token: str, now: datetime, until: datetime, limit: int, exclude: Iterable[str] = ()
    ) -> list[Claimed]:
        """Lease up to `limit` deliveries that are due, each the first pending one of its lane, to `token`."""
        cand, earlier = DELIVERIES.alias("cand"), DELIVERIES.alias("earlier")
        free = or_(cand.c.claimed_until.is_(None), cand.c.claimed_until < now)
        blocked = exists().where(
            earlier.c.case_id == cand.c.case_id,
            earlier.c.recipient == cand.c.recipient,
            earlier.c.channel == cand.c.channel,
            earlier.c.state == PENDING,
            earlier.c.notification_id < cand.c.notification_id,
        )
        heads = (
            select(cand.c.id)
            .where(cand.c.state == PENDING, cand.c.next_at <= now, free, ~blocked, cand.c.channel.not_in(list(exclude)))
            .order_by(cand.c.next_at, cand.c.id)
            .limit(limit)
        )
        if self.postgres:
            heads = heads.with_for_update(skip_locked=True, of=cand)
        # Materialized, so PostgreSQL runs it once: a rescanned SKIP LOCKED subquery can return more than its LIMIT.
        picked = heads.cte("heads").prefix_with("MATERIALIZED", dialect="postgresql")
        d, m = DELIVERIES.c, MESSAGES.c
        still_free = or_(d.claimed_until.is_(None), d.claimed_until < now)
        with self.engine.begin() as conn:
            conn.execute(
                update(DELIVERIES)
                .where(d.id.in_(select(picked.c.id)), d.state == PENDING, still_free)
                .values(claimed_by=token, claimed_until=until)
            )
            rows = conn.execute(
                select(d.id, d.channel, d.case_id, d.recipient, d.failures, d.sending_since)
                .add_columns(m.seq, m.idx, m.text, m.created_at)
                .join(MESSAGES, m.id == d.notification_id)
                .where(d.claimed_by == token)
                .order_by(d.notification_id)
            ).all()
        return [
            Claimed(
                id=r.id,
                channel=r.channel,
                case_id=r.case_id,
                recipient=r.recipient,
                key=message_key(r.case_id, r.seq, r.idx),
                text=r.text,
                created_at=aware(r.created_at) or now,
                failures=r.failures,
                unconfirmed=r.sending_since is not None,
            )
            for r in rows
        ]

    def start(self, token: str, now: datetime, send: Iterable[int], give_back: Iterable[int] = ()) -> None:
        """Mark the sends of claimed deliveries begun (one whose earlier send was never confirmed counts in
        `resent`), and give back unsent the claims in `give_back` (a channel over its rate limit)."""
        d = DELIVERIES.c
        again = case((d.sending_since.is_not(None), d.resent + 1), else_=d.resent)
        with self.engine.begin() as conn:
            conn.execute(
                update(DELIVERIES)
                .where(d.id.in_(list(send)), d.claimed_by == token)
                .values(sending_since=now, attempts=d.attempts + 1, resent=again)
            )
            back = list(give_back)
            if back:
                conn.execute(
                    update(DELIVERIES)
                    .where(d.id.in_(back), d.claimed_by == token)
                    .values(claimed_by=None, claimed_until=None)
                )

    def finish(self, token: str, delivery_id: int, **values: Any) -> bool:
        """Record a send's outcome (the columns in `values`) and end the claim; False if it was not ours."""
        d = DELIVERIES.c
        with self.engine.begin() as conn:
            done = conn.execute(
                update(DELIVERIES)
                .where(d.id == delivery_id, d.claimed_by == token)
                .values(claimed_by=None, claimed_until=None, sending_since=None, **values)
            )
        return bool(done.rowcount)

    # ------------------------------------------------------------------------------------------ supervisors

    def for_case(self, case_id: str) -> list[Entry]:
        d, m = DELIVERIES.c, MESSAGES.c
        with self.engine.connect() as conn:
            rows = conn.execute(
                select(MESSAGES, d.channel, d.provider, d.state, d.attempts, d.resent, d.last_error, d.next_at)
                .add_columns(d.delivered_at, d.dead_at)
                .outerjoin(DELIVERIES, d.notification_id == m.id)
                .where(m.case_id == case_id)
                .order_by(m.id, d.id)
            ).all()
        return [
            Entry(
                notification_id=r.id,
                key=message_key(r.case_id, r.seq, r.idx),
                recipient=r.recipient,
                text=r.text,
                created_at=aware(r.created_at) or r.created_at,
                channel=r.channel or None,
                provider=None if r.provider in (None, "none") else r.provider,
                state=r.state or "queued",
                attempts=r.attempts or 0,
                resent=r.resent or 0,
                last_error=r.last_error,
                next_at=aware(r.next_at) if r.state == PENDING else None,
                delivered_at=aware(r.delivered_at),
                dead_at=aware(r.dead_at),
            )
            for r in rows
        ]

    def resend(self, case_id: str, notification_id: int, now: datetime) -> int | None:
        """Queue again what failed of one message: its dead deliveries from the start, and a message no
        channel served for routing anew. Returns how many were queued again; None if the case has no such
        message."""
        d, m = DELIVERIES.c, MESSAGES.c
        with self.engine.begin() as conn:
            found = conn.execute(select(m.id).where(m.id == notification_id, m.case_id == case_id)).first()
            if found is None:
                return None
            again = conn.execute(
                update(DELIVERIES)
                .where(d.notification_id == notification_id, d.state == DEAD)
                .values(state=PENDING, failures=0, next_at=now, dead_at=None)
            ).rowcount
            unserved = conn.execute(
                DELIVERIES.delete().where(d.notification_id == notification_id, d.state == NO_CHANNEL)
            ).rowcount
            if unserved:
                conn.execute(update(MESSAGES).where(m.id == notification_id).values(routed_at=None))
        return int(again) + int(unserved)

    # ------------------------------------------------------------------------------------------ metrics

    def counts(self, now: datetime) -> dict[str, float]:
        """What the API's /metrics shows: deliveries by state, messages not routed yet, retries, possible
        duplicates, and the age of the oldest message still waiting (the delivery lag now)."""
        d, m = DELIVERIES.c, MESSAGES.c
        with self.engine.connect() as conn:
            by_state: dict[str, int] = dict(conn.execute(select(d.state, func.count()).group_by(d.state)).all())
            queued = conn.execute(select(func.count()).where(m.routed_at.is_(None))).scalar_one()
            retries, resent = conn.execute(
                select(
                    func.coalesce(func.sum(case((d.attempts > 1, d.attempts - 1), else_=0)), 0),
                    func.coalesce(func.sum(d.resent), 0),
                )
            ).one()
            oldest = conn.execute(select(func.min(d.created_at)).where(d.state == PENDING)).scalar_one()
            oldest_unrouted = conn.execute(select(func.min(m.created_at)).where(m.routed_at.is_(None))).scalar_one()
        waiting = [t for t in (aware(oldest), aware(oldest_unrouted)) if t is not None]
        return {
            **{state: float(by_state.get(state, 0)) for state in STATES},
            "queued": float(queued),
            "retries": float(retries),
            "resent": float(resent),
            "oldest_waiting_seconds": max(0.0, (now - min(waiting)).total_seconds()) if waiting else 0.0,
        }
