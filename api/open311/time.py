"""Times as the standard shows them: w3 datetimes in the city's zone."""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

from models.policy import Policy


def local(at: datetime, policy: Policy) -> datetime:
    # SQLite hands datetimes back naive; they were stored in UTC.
    aware = at if at.tzinfo else at.replace(tzinfo=UTC)
    return aware.astimezone(ZoneInfo(policy.calendar.timezone))
