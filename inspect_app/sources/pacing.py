"""Rate limiting on monotonic deadlines, so a source's rate does not drift with processing time."""

from __future__ import annotations

import time


class Pacer:
    def __init__(self, rate_hz: float) -> None:
        self.period = 1.0 / rate_hz if rate_hz > 0 else 0.0
        self._next = 0.0

    def wait(self) -> None:
        if not self.period:
            return
        now = time.monotonic()
        if self._next > now:
            time.sleep(self._next - now)
        # after falling behind, the next slot is one period from now: no burst to catch up
        self._next = max(self._next, now) + self.period
