"""What the benchmarks read back from the engine's SQLite read model: rows, counts, and when each case escalated."""

from __future__ import annotations

import asyncio
import sqlite3
import time
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bench.stack import spread


def sqlite_path(database_url: str) -> Path:
    return Path(database_url.split("///", 1)[1])


def read_model(path: Path, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
    """A read-only query on the engine's SQLite read model (WAL: reads never block the worker's writes)."""
    if not path.exists():
        return []
    conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=30)
    try:
        return conn.execute(sql, tuple(params)).fetchall()
    except sqlite3.OperationalError as err:
        if "no such table" in str(err):
            return []
        raise
    finally:
        conn.close()


def parse_at(value: str) -> datetime:
    """A datetime as SQLAlchemy stores it in SQLite (UTC, no offset)."""
    parsed = datetime.fromisoformat(value)
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def count_rows(path: Path, sql: str) -> int:
    rows = read_model(path, sql)
    return int(rows[0][0]) if rows else 0


async def wait_rows(path: Path, sql: str, want: int, timeout: float, every: float = 0.5) -> tuple[int, float]:
    """Poll `sql` (a count) until it reaches `want`; returns (count, seconds waited)."""
    started = time.monotonic()
    while True:
        count = count_rows(path, sql)
        waited = time.monotonic() - started
        if count >= want or waited > timeout:
            return count, waited
        await asyncio.sleep(every)


def grid_escalations(path: Path, case_ids: Sequence[str] | None = None) -> dict[str, tuple[datetime, datetime, str]]:
    """case id -> (event at, deadline due, escalated to) for each case's automatic grid → community escalation."""
    rows = read_model(
        path,
        "SELECT case_id, at, deadline_due, json_extract(data, '$.to') FROM case_events "
        "WHERE kind = 'auto_escalate' AND tier = 'grid'",
    )
    wanted = None if case_ids is None else set(case_ids)
    return {
        case_id: (parse_at(at), parse_at(due), to)
        for case_id, at, due, to in rows
        if due is not None and (wanted is None or case_id in wanted)
    }


def delivery_figures(path: Path) -> dict[str, Any]:
    """Lag (case wrote it → delivery confirmed) of every delivered message, and the rate they were delivered."""
    rows = read_model(path, "SELECT created_at, delivered_at FROM notification_deliveries WHERE state = 'delivered'")
    pairs = [(parse_at(created), parse_at(done)) for created, done in rows]
    lags = [(done - created).total_seconds() for created, done in pairs]
    first = min((c for c, _ in pairs), default=None)
    last = max((d for _, d in pairs), default=None)
    span = (last - first).total_seconds() if first and last else 0.0
    return {
        "delivered": len(pairs),
        "lag_s": spread(lags),
        "span_s": round(span, 2),
        "per_second": round(len(pairs) / span, 1) if span else None,
        "not_delivered": count_rows(path, "SELECT count(*) FROM notification_deliveries WHERE state != 'delivered'")
        + count_rows(path, "SELECT count(*) FROM notifications WHERE routed_at IS NULL"),
    }
