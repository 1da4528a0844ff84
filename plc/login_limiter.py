"""Failed OPC UA logins, per remote address, with an exponential back-off.

A few wrong passwords are free (a person mistyping); after that, each further failure doubles the time during
which every login from that address is refused *without checking the password*, so that guessing gains
nothing, and the log gets one line per failure or block instead of one per attempt.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass


@dataclass
class _Record:
    failures: int = 0
    blocked_until: float = 0.0
    last: float = 0.0
    block_logged: bool = False


class LoginLimiter:
    def __init__(
        self,
        free_failures: int = 3,
        base_s: float = 1.0,
        max_s: float = 300.0,
        clock: Callable[[], float] = time.monotonic,
        max_addresses: int = 10_000,
    ) -> None:
        self.free_failures = free_failures
        self.base_s = base_s
        self.max_s = max_s
        self._clock = clock
        self.max_addresses = max_addresses
        self._records: dict[str, _Record] = {}

    def blocked_for(self, address: str) -> float:
        """Seconds during which logins from ``address`` are still refused (0: not blocked)."""
        rec = self._records.get(address)
        return max(0.0, rec.blocked_until - self._clock()) if rec else 0.0

    def first_refusal_of_block(self, address: str) -> bool:
        """True once per block: the attempt refused while blocked that deserves a log line."""
        rec = self._records.get(address)
        if rec is None or rec.block_logged:
            return False
        rec.block_logged = True
        return True

    def failed(self, address: str) -> float:
        """Record a failed login; returns the block now in force, in seconds (0 while failures are free)."""
        now = self._clock()
        rec = self._records.get(address)
        if rec is None:
            self._forget_oldest()
            rec = self._records[address] = _Record()
        elif now - rec.last > self.max_s:
            rec.failures = 0  # a failure long ago is not part of this series
        rec.failures += 1
        rec.last = now
        extra = rec.failures - self.free_failures
        if extra <= 0:
            return 0.0
        block = min(self.max_s, self.base_s * 2 ** (extra - 1))
        rec.blocked_until = now + block
        rec.block_logged = False
        return block

    def succeeded(self, address: str) -> None:
        self._records.pop(address, None)

    def failures(self, address: str) -> int:
        rec = self._records.get(address)
        return rec.failures if rec else 0

    def _forget_oldest(self) -> None:
        # many addresses (a scan) must not grow memory without bound; the oldest series matters least
        if len(self._records) >= self.max_addresses:
            oldest = min(self._records, key=lambda a: self._records[a].last)
            del self._records[oldest]
