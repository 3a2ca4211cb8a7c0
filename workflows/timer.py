"""The movable timer both workflows sleep on: until the next deadline point, or until something changed."""

from __future__ import annotations

import asyncio
from datetime import datetime, timedelta

from temporalio import workflow


class MovableTimer:
    """`poke()` wakes the sleeper, which then plans again: an extension, an escalation or a reopen moves the
    next point, and the timer follows (samples-python's `updatable_timer`).

    With `keep` (rule set 2), a timer whose point did not move is kept across wake-ups instead of being cancelled
    and started again: a 报到 or a 催办 by hand leaves no timer events in the history."""

    def __init__(self, *, keep: bool = False) -> None:
        self.changed = False
        self.keep = keep
        self._timer: asyncio.Task[None] | None = None
        self._at: datetime | None = None

    def poke(self) -> None:
        self.changed = True

    async def sleep_until(self, at: datetime | None) -> None:
        """Returns at `at` (at once if it has passed), when poked, or, with no `at`, only when poked."""
        self.changed = False
        timeout = None if at is None else at - workflow.now()
        if timeout is not None and timeout <= timedelta(0):
            return
        if not self.keep:
            try:
                await workflow.wait_condition(lambda: self.changed, timeout=timeout)
            except TimeoutError:
                pass
            return
        if at != self._at or self._timer is None or self._timer.done():
            if self._timer is not None and not self._timer.done():
                self._timer.cancel()
            self._timer = None if timeout is None else asyncio.create_task(workflow.sleep(timeout))
            self._at = at
        timer = self._timer
        await workflow.wait_condition(lambda: self.changed or (timer is not None and timer.done()))
