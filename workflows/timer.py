"""The movable timer both workflows sleep on: until the next deadline point, or until something changed."""

from __future__ import annotations

from datetime import datetime, timedelta

from temporalio import workflow


class MovableTimer:
    """`poke()` wakes the sleeper, which then plans again: an extension, an escalation or a reopen moves the
    next point, and the timer follows (samples-python's `updatable_timer`)."""

    def __init__(self) -> None:
        self.changed = False

    def poke(self) -> None:
        self.changed = True

    async def sleep_until(self, at: datetime | None) -> None:
        """Returns at `at` (at once if it has passed), when poked, or, with no `at`, only when poked."""
        self.changed = False
        timeout = None if at is None else at - workflow.now()
        if timeout is not None and timeout <= timedelta(0):
            return
        try:
            await workflow.wait_condition(lambda: self.changed, timeout=timeout)
        except TimeoutError:
            pass
