"""Notifications: an outbox row per message, a structured log line, and a webhook when one is configured.

Rows are keyed by case id + event seq + index, so a retried activity neither writes nor sends twice. The
reporter is addressed by vault reference; an SMS gateway behind the webhook resolves it, the outbox never
holds the number.
"""

from __future__ import annotations

from datetime import UTC, datetime

import httpx
import structlog
from sqlalchemy.engine import Connection, Engine
from sqlmodel import Session, col, select

from activities.upsert import insert_or_ignore
from models.case import Notice
from models.tables import NotificationRow

log = structlog.get_logger(__name__)


class Notifier:
    def __init__(self, engine: Engine, webhook_url: str | None = None) -> None:
        self.engine = engine
        self.webhook_url = webhook_url
        table = NotificationRow.__table__  # type: ignore[attr-defined]
        self._insert = insert_or_ignore(engine, table, ("case_id", "seq", "idx"))

    def queue(
        self, conn: Connection, case_id: str, notices: list[tuple[int, Notice]], reporter_ref: str | None
    ) -> None:
        """Add outbox rows in the caller's transaction; existing keys are left alone."""
        if not notices:
            return
        now = datetime.now(UTC)
        per_seq: dict[int, int] = {}
        rows = []
        for seq, notice in notices:
            idx = per_seq[seq] = per_seq.get(seq, -1) + 1
            recipient = notice.to if notice.to != "reporter" else f"reporter:{reporter_ref or 'anonymous'}"
            rows.append(
                {
                    "case_id": case_id,
                    "seq": seq,
                    "idx": idx,
                    "recipient": recipient,
                    "text": notice.text,
                    "created_at": now,
                    "delivered_at": None if self.webhook_url else now,
                }
            )
            log.info("notification_queued", case_id=case_id, seq=seq, recipient=recipient)
        conn.execute(self._insert, rows)

    def deliver(self, case_id: str) -> int:
        """Send undelivered rows to the webhook; a failure raises so the activity retries the rest.

        Without a webhook the outbox row is the delivery: rows are written as delivered.
        """
        if not self.webhook_url:
            return 0
        with Session(self.engine) as session:
            rows = session.exec(
                select(NotificationRow)
                .where(NotificationRow.case_id == case_id, col(NotificationRow.delivered_at).is_(None))
                .order_by(col(NotificationRow.seq), col(NotificationRow.idx))
            ).all()
            if not rows:
                return 0
            with httpx.Client(timeout=10) as client:
                for row in rows:
                    key = f"{case_id}:{row.seq}:{row.idx}"
                    client.post(
                        self.webhook_url,
                        json={"id": key, "case_id": case_id, "recipient": row.recipient, "text": row.text},
                        headers={"Idempotency-Key": key},
                    ).raise_for_status()
                    row.delivered_at = datetime.now(UTC)
                    session.add(row)
                    session.commit()
            return len(rows)
