"""Every frame id a GenICam camera sent, accounted for: handed to a part, dropped for a reason, incomplete,
missing (never arrived), or still held.

GigE Vision 1.x block ids are 16 bits and run 1..65535, then 1 again (0 is never used); USB3 Vision and
GigE Vision 2 extended ids are 64 bits. Ids are unwrapped per acquisition session (a session starts at each
(re)connect, where the camera may restart its count), so a gap of N ids is N frames that never reached the
station, whatever the wrap. The invariant ``ids == delivered + dropped + incomplete + missing + held`` is
what the tests and the benchmark check.
"""

from __future__ import annotations

from dataclasses import dataclass, field

_WRAP = 65_535  # GigE Vision 1.x: ids 1..65535
_RESET = 32_768  # a jump this large is the camera restarting its count, not that many lost frames


@dataclass(frozen=True, slots=True)
class LedgerCounts:
    ids: int  # frame ids the camera used, from the first seen to the last, every session
    received: int  # complete frames that arrived
    incomplete: int  # arrived damaged (missing packets, timeout, size mismatch)
    missing: int  # ids skipped: lost on the link or by the driver
    delivered: int  # handed to a part
    dropped: dict[str, int] = field(default_factory=dict)  # reason -> count: superseded, unmatched, ...
    held: int = 0  # complete frames waiting to be taken
    duplicates: int = 0  # an id seen twice in a row (not counted in ids)
    sessions: int = 0
    id_resets: int = 0

    @property
    def unaccounted(self) -> int:
        """0 when every id is in exactly one category."""
        return self.ids - (self.delivered + sum(self.dropped.values()) + self.incomplete + self.missing
                           + self.held)  # fmt: skip


class FrameLedger:
    """Not locked: the source calls it under its own lock."""

    def __init__(self) -> None:
        self._last: int | None = None
        self._ids = 0
        self._received = 0
        self._incomplete = 0
        self._missing = 0
        self._delivered = 0
        self._dropped: dict[str, int] = {}
        self._held = 0
        self._duplicates = 0
        self._sessions = 0
        self._resets = 0

    def start_session(self) -> None:
        """A new acquisition (a (re)connect): the camera may count from anywhere again."""
        self._last = None
        self._sessions += 1

    def arrived(self, frame_id: int, complete: bool) -> int:
        """Count one buffer; returns how many ids before it never arrived (-1: a repeated id, ignored)."""
        gap = 0
        if self._last is not None:
            step = frame_id - self._last
            if step < 0 and frame_id <= _WRAP and self._last <= _WRAP:
                step += _WRAP  # a 16-bit id wrapped
            if step == 0:
                self._duplicates += 1
                return -1
            if step > _RESET or step < 0:
                self._resets += 1
                step = 1
            gap = step - 1
        self._last = frame_id
        self._ids += gap + 1
        self._missing += gap
        if complete:
            self._received += 1
            self._held += 1
        else:
            self._incomplete += 1
        return gap

    def delivered(self) -> None:
        self._held -= 1
        self._delivered += 1

    def dropped(self, reason: str, n: int = 1) -> None:
        """``n`` held frames will never be a part's picture, because of ``reason``."""
        if n <= 0:
            return
        self._held -= n
        self._dropped[reason] = self._dropped.get(reason, 0) + n

    def counts(self) -> LedgerCounts:
        return LedgerCounts(
            ids=self._ids, received=self._received, incomplete=self._incomplete, missing=self._missing,
            delivered=self._delivered, dropped=dict(self._dropped), held=self._held,
            duplicates=self._duplicates, sessions=self._sessions, id_resets=self._resets,
        )  # fmt: skip
