"""One guard for every station thread, and the watch list the supervisor walks.

A worker thread that ends by an exception nobody expected used to end quietly: the state stayed Operational,
the heartbeat ticked, and the next triggered part got no row at all. Every thread the station starts (and
every thread a link or store registers) now runs under ``guarded``: the exception is logged with its
traceback and handed to ``on_crash``, which raises the station's Error. Independently, the supervisor walks
the ``Watch`` list and notices a thread that is dead, or alive but stuck on one item, whatever the cause.

Per-item guards (a part in hand) live in the stages themselves (``pipeline.py``): there the part is known and
is recorded NOT_INSPECTED ``INTERNAL_ERROR``.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass

log = logging.getLogger(__name__)

CrashHandler = Callable[[str, BaseException], None]
StuckProbe = Callable[[float], tuple[float, str | None]]  # now -> (seconds busy on one item, its part id)


def guarded(name: str, body: Callable[[], None], on_crash: CrashHandler) -> Callable[[], None]:
    def run() -> None:
        try:
            body()
        except BaseException as exc:  # thread boundary: a dead worker must be loud
            log.exception("worker %s died", name)
            try:
                on_crash(name, exc)
            except Exception:  # the crash report itself failed; the supervisor still sees a dead thread
                log.exception("reporting the death of worker %s failed", name)

    return run


@dataclass(frozen=True, slots=True)
class Watch:
    """One thing the supervisor checks each period: that it is alive and that it is not stuck."""

    name: str
    alive: Callable[[], bool]
    stuck_for: StuckProbe | None = None
    flag_stalled: Callable[[], str | None] | None = None


class WorkerThreads:
    """The station's own threads, started under the guard; each also becomes a ``Watch``."""

    def __init__(self, on_crash: CrashHandler) -> None:
        self._on_crash = on_crash
        self._threads: dict[str, threading.Thread] = {}

    def start(self, name: str, body: Callable[[], None]) -> threading.Thread:
        t = threading.Thread(target=guarded(name, body, self._on_crash), name=f"station-{name}", daemon=True)
        self._threads[name] = t
        t.start()
        return t

    def get(self, name: str) -> threading.Thread | None:
        return self._threads.get(name)

    def alive(self, name: str) -> bool:
        t = self._threads.get(name)
        return bool(t and t.is_alive())

    def join(self, name: str, timeout: float) -> None:
        t = self._threads.get(name)
        if t is not None and t is not threading.current_thread():
            t.join(max(0.0, timeout))
