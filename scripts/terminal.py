"""How the command line shows a case on a terminal: times in the city's zone, columns that allow for Chinese."""

from __future__ import annotations

import unicodedata
from datetime import datetime
from zoneinfo import ZoneInfo

from config import settings
from models.timeline import DEADLINE_LABEL, EVENT_LABEL, CaseEvent, Deadline
from policy import load_policy


def local(at: datetime) -> str:
    # The city's own zone, as its policy says (the cases' deadlines are on its calendar).
    return at.astimezone(ZoneInfo(load_policy(settings.policy_dir).calendar.timezone)).strftime("%Y-%m-%d %H:%M:%S")


def pad(text: str, width: int) -> str:
    """Left-align for a terminal, where a Chinese character takes two columns."""
    return text + " " * max(0, width - sum(2 if unicodedata.east_asian_width(c) in "WF" else 1 for c in text))


def print_deadlines(deadlines: list[Deadline]) -> None:
    for d in deadlines:
        state = "超期" if d.missed else "按时" if d.closed_at else "进行中"
        print(f"  {pad(DEADLINE_LABEL[d.kind], 12)} {d.unit_id:<18} 截止 {local(d.due_at)}  {state}")


def print_timeline(events: list[CaseEvent]) -> None:
    for e in sorted(events, key=lambda e: e.seq):
        print(f"  {e.seq:>3}. {local(e.at)}  {pad(EVENT_LABEL[e.kind], 12)} {pad(e.unit_id or '—', 18)} {e.text}")
