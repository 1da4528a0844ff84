"""A bounded queue between two station threads, in C all the way: its reader sleeps and wakes in C.

``queue.Queue`` waits in a Python ``Condition`` (a lock allocated per wait, the mutex taken again after the
wake-up). After 20 ms idle, as the station's threads meet each part, every Python step runs several times
slower than warm: handing an item to a thread asleep on a ``queue.Queue`` took 84 us on the 2-core Zen 4
host, against 43 us here and 37 us for a bare ``SimpleQueue`` (``bench/bench_handoff.py``,
``bench/results/handoff.json``); a triggered part crosses two hand-offs before its verdict. With a
``threading.Semaphore`` as the bound it took 68 us, so the bound is a second ``SimpleQueue`` holding one
token per free place: a put takes a token (or waits for one, or raises ``queue.Full``), a get gives one
back. Same interface as the station used of ``queue.Queue`` and the same exceptions.
"""

from __future__ import annotations

import queue
from typing import Generic, TypeVar

T = TypeVar("T")
NOWAIT_GRACE_S = 0.001


class Handoff(Generic[T]):
    def __init__(self, maxsize: int = 0) -> None:
        self._items: queue.SimpleQueue[T] = queue.SimpleQueue()
        self._places: queue.SimpleQueue[None] | None = None
        if maxsize > 0:
            self._places = queue.SimpleQueue()
            for _ in range(maxsize):
                self._places.put(None)
        self.maxsize = maxsize

    def put(self, item: T, block: bool = True, timeout: float | None = None) -> None:
        if self._places is not None:
            try:
                if block:
                    self._places.get(True, timeout)
                else:
                    self._take_place_now()
            except queue.Empty:
                raise queue.Full from None
        self._items.put(item)

    def _take_place_now(self) -> None:
        """A place for a non-blocking put, at once. A reader takes its item and then gives its place back:
        only a put that meets it in between (fewer items than places, no place free) waits for that moment,
        1 ms at most; a queue that is really full refuses at once (a trigger from a PLC's event loop)."""
        assert self._places is not None
        try:
            self._places.get_nowait()
        except queue.Empty:
            if self._items.qsize() >= self.maxsize:
                raise
            self._places.get(True, NOWAIT_GRACE_S)

    def put_nowait(self, item: T) -> None:
        self.put(item, block=False)

    def get(self, block: bool = True, timeout: float | None = None) -> T:
        item = self._items.get(block, timeout)  # raises queue.Empty
        if self._places is not None:
            self._places.put(None)
        return item

    def get_nowait(self) -> T:
        return self.get(block=False)

    def qsize(self) -> int:
        return self._items.qsize()
