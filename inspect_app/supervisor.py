"""The supervisor: notices what went wrong while nobody was asking, and puts the station into Error.

Every ``period_s`` it walks its watch list and the station's parts:

* a worker thread that died (``WORKER_DIED``; latched until the station restarts: nothing would take its
  work), or that has held one item longer than ``stall_timeout_s`` (``STAGE_STALLED``: a hung camera driver,
  a model that never returns, a disk that blocks; the part in hand is marked so that it is recorded
  NOT_INSPECTED even if the stage finishes it later);
* the results store: commits failing (``STORE_ERROR``), the disk full under it (``DISK_FULL``: running on
  its space reserve) or its writer stuck;
* the camera, for sources that grab in a thread of their own (``status()``): a loss is an Error within one
  period whether or not a part is being triggered.

While in Error the acquire stage records every trigger NOT_INSPECTED at once, so no PASS is ever reported for
a part that was not inspected. The heartbeat the PLC watches ticks only while the station is Operational and
nothing is wrong.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

from inspect_app.protocols import SourceError
from inspect_app.workers import Watch

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Problem:
    code: str  # the station's error code: WORKER_DIED, STAGE_STALLED, STORE_ERROR
    message: str


class SupervisedStation(Protocol):
    """What the supervisor needs from the station."""

    def watches(self) -> Sequence[Watch]: ...
    def store_problem(self) -> tuple[str, str] | None: ...
    def source_status(self) -> object | None: ...
    def stopping(self) -> bool: ...
    def report_problem(self, problem: Problem) -> None: ...
    def report_recovered(self, problem: Problem) -> None: ...
    def on_source_error(self, exc: SourceError) -> None: ...
    def on_source_ok(self) -> None: ...
    def on_worker_died(self, name: str) -> None: ...
    def beat(self) -> None: ...


class Supervisor:
    def __init__(self, station: SupervisedStation, stall_timeout_s: float, period_s: float = 0.25) -> None:
        self.station = station
        self.stall_timeout_s = stall_timeout_s
        self.period_s = period_s
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._problem: Problem | None = None
        self._dead: set[str] = set()
        self.checks = 0  # periods completed: its own progress, for tests and the health snapshot

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="station-supervisor", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread and self._thread is not threading.current_thread():
            self._thread.join(2.0)

    @property
    def alive(self) -> bool:
        return bool(self._thread and self._thread.is_alive())

    def problem(self) -> str | None:
        """The current reason the station must not inspect (None when all is well)."""
        return self._problem.message if self._problem else None

    def check(self, now: float | None = None) -> Problem | None:
        now = time.monotonic() if now is None else now
        station = self.station
        watches = station.watches()
        for watch in watches:
            if not watch.alive() and not station.stopping():
                if watch.name not in self._dead:
                    self._dead.add(watch.name)
                    station.on_worker_died(watch.name)
                return Problem("WORKER_DIED", f"worker '{watch.name}' has stopped; restart the station")
        store = station.store_problem()
        if store:  # before stalls: a writer retrying a full disk is stuck *because* of this
            return Problem(*store)
        for watch in watches:
            if watch.stuck_for is None:
                continue
            busy, part = watch.stuck_for(now)
            if busy > self.stall_timeout_s:
                if watch.flag_stalled is not None:
                    watch.flag_stalled()
                return Problem(
                    "STAGE_STALLED", f"stage '{watch.name}' stuck for {busy:.1f}s on part {part or '-'}"
                )
        return None

    def _check_source(self) -> None:
        status = self.station.source_status()
        if status is None:
            return
        if getattr(status, "ok", True):
            self.station.on_source_ok()
        else:
            code = getattr(status, "code", None) or "DISCONNECTED"
            self.station.on_source_error(SourceError(code, getattr(status, "message", code)))

    def _run(self) -> None:
        station = self.station
        while not self._stop.wait(self.period_s):
            try:
                problem = self.check()
                # compared by code: a message that only updates its numbers (free MB) is the same problem
                if _code(problem) != _code(self._problem):
                    if problem is not None:
                        station.report_problem(problem)
                    elif self._problem is not None:
                        station.report_recovered(self._problem)
                self._problem = problem
                self._check_source()
                if problem is None:
                    station.beat()
            except Exception:  # the watchdog must outlive its own bugs; its failure is logged each period
                log.exception("supervisor check failed")
            self.checks += 1


def _code(problem: Problem | None) -> str | None:
    return problem.code if problem is not None else None
