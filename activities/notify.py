"""The outbox a case writes: one row per message, in the case's own projection transaction, and nothing else.

Rows are keyed by case id + event seq + index, so a retried activity writes nothing twice. Delivery is the
notification dispatcher's (`notifications/`), apart from the case: no receiver can hold a case's actions or
timers back. The reporter is addressed by vault reference; the SMS channel resolves it at send time, the outbox
never holds the number.
"""

from __future__ import annotations

from datetime import UTC, datetime

import structlog
from sqlalchemy.engine import Connection, Engine

from models.tables import NotificationRow
from models.timeline import Message
from store.upsert import insert_or_ignore

log = structlog.get_logger(__name__)


class Notifier:
    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        table = NotificationRow.__table__  # type: ignore[attr-defined]
        self._insert = insert_or_ignore(engine, table, ("case_id", "seq", "idx"))

    def queue(
        self, conn: Connection, case_id: str, notices: list[tuple[int, Message]], reporter_ref: str | None
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
                }
            )
            log.info("notification_queued", case_id=case_id, seq=seq, recipient=recipient)
        conn.execute(self._insert, rows)
