"""The window yields the CPU to the inspection.

On a 2-core station PC at full line rate the pipeline uses both cores; the window's own work is small, but
each time its thread wakes (30 times a second) it takes a core and the GIL from the pipeline's threads,
and the line slowed by 10 % with the window open (docs/performance.md). So the window's threads (the Qt
thread, the DB reader and Qt's own helper threads, which inherit its priority) run at a lower priority
(Linux ``nice``, ``[ui] nice``): the window gets the CPU the inspection leaves, which at the measured
load is plenty (the UI stall stays far under 50 ms).

A thread inherits its creator's priority, and an ordinary user cannot raise one again. So every thread
that starts a station, or loads a model for one, is made by a ``Launcher`` thread created before the Qt
thread lowers itself: the station's threads then run at the normal priority, however often the operator
stops and starts it.
"""

from __future__ import annotations

import logging
import os
import queue
import threading
from collections.abc import Callable
from concurrent.futures import Future

log = logging.getLogger(__name__)


def thread_nice(native_id: int | None = None) -> int | None:
    """A thread's nice value (None where the OS has no per-thread priorities)."""
    if not hasattr(os, "getpriority"):
        return None
    return os.getpriority(os.PRIO_PROCESS, native_id or threading.get_native_id())


def lower_this_thread(by: int) -> bool:
    """Lower the calling thread's priority by ``by`` nice steps (Linux: per thread). False if not done."""
    if by <= 0 or not hasattr(os, "setpriority"):
        return False
    tid = threading.get_native_id()
    try:
        os.setpriority(os.PRIO_PROCESS, tid, min(19, os.getpriority(os.PRIO_PROCESS, tid) + by))
    except OSError as exc:  # e.g. a sandbox without the call: run at the same priority, say so
        log.warning("could not lower the window's priority: %s", exc)
        return False
    return True


class Launcher:
    """Starts threads on behalf of others from a thread of its own, so they get its (normal) priority."""

    def __init__(self) -> None:
        self._requests: queue.Queue[tuple[Callable[[], None], str, Future]] = queue.Queue()
        threading.Thread(target=self._run, name="ui-launcher", daemon=True).start()

    def spawn(self, target: Callable[[], None], name: str) -> threading.Thread:
        done: Future[threading.Thread] = Future()
        self._requests.put((target, name, done))
        return done.result(timeout=10)

    def _run(self) -> None:
        while True:
            target, name, done = self._requests.get()
            try:
                t = threading.Thread(target=target, name=name, daemon=True)
                t.start()
            except RuntimeError as exc:  # "can't start new thread": the caller raises it
                done.set_exception(exc)
            else:
                done.set_result(t)
