"""The station's hand-off queue keeps queue.Queue's contract: an exact bound under concurrent producers,
Full/Empty as queue.Queue raises them, and a blocked put that goes on as soon as a reader makes room."""

from __future__ import annotations

import queue
import threading

import pytest

from inspect_app import handoff
from inspect_app.handoff import Handoff


def test_the_bound_holds_and_a_get_makes_room() -> None:
    q: Handoff[int] = Handoff(2)
    q.put_nowait(1)
    q.put(2, timeout=0.01)
    with pytest.raises(queue.Full):
        q.put_nowait(3)
    with pytest.raises(queue.Full):
        q.put(3, timeout=0.05)
    assert q.qsize() == 2
    assert q.get() == 1
    q.put_nowait(3)
    assert [q.get_nowait(), q.get(timeout=0.01)] == [2, 3]
    with pytest.raises(queue.Empty):
        q.get_nowait()
    with pytest.raises(queue.Empty):
        q.get(timeout=0.05)


def test_unbounded_takes_everything_in_order() -> None:
    q: Handoff[int] = Handoff()
    for i in range(1000):
        q.put_nowait(i)
    assert [q.get() for _ in range(1000)] == list(range(1000))


def test_concurrent_producers_never_overfill_it() -> None:
    q: Handoff[int] = Handoff(3)
    accepted: list[int] = []
    start = threading.Barrier(8)

    def producer(n: int) -> None:
        start.wait()
        for i in range(200):
            try:
                q.put_nowait(n * 1000 + i)
                accepted.append(n)
            except queue.Full:
                pass

    threads = [threading.Thread(target=producer, args=(n,)) for n in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(accepted) == 3 and q.qsize() == 3


def test_a_blocked_put_goes_on_when_a_reader_takes_one() -> None:
    q: Handoff[str] = Handoff(1)
    q.put("first")
    done = threading.Event()

    def blocked() -> None:
        q.put("second")  # no timeout: waits for room
        done.set()

    t = threading.Thread(target=blocked)
    t.start()
    assert not done.wait(0.1)
    assert q.get() == "first"
    assert done.wait(10) and q.get(timeout=10) == "second"
    t.join()


class _Places(queue.SimpleQueue):
    """The queue of free places, recording every wait a put makes for one."""

    def __init__(self) -> None:
        super().__init__()
        self.waits: list[float | None] = []

    def get(self, block: bool = True, timeout: float | None = None):  # type: ignore[override]
        if block:
            self.waits.append(timeout)
        return super().get(block, timeout)


def _watched(maxsize: int) -> tuple[Handoff[int], _Places]:
    h: Handoff[int] = Handoff(maxsize)
    places = _Places()
    for _ in range(maxsize):
        places.put(None)
    h._places = places
    return h, places


def test_a_full_queue_refuses_a_nonblocking_put_without_waiting() -> None:
    """A trigger from a PLC's event loop must not stall it: a really full queue says Full at once."""
    h, places = _watched(1)
    h.put_nowait(1)
    with pytest.raises(queue.Full):
        h.put_nowait(2)
    assert places.waits == []


def test_a_nonblocking_put_waits_only_for_a_reader_between_item_and_place() -> None:
    h, places = _watched(1)
    h.put_nowait(1)
    h._items.get()  # a reader has its item and has not given its place back yet
    with pytest.raises(queue.Full):  # nobody gives it back here: Full after the short grace
        h.put_nowait(2)
    assert places.waits == [handoff.NOWAIT_GRACE_S]
