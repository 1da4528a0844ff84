"""The supervisor: notices a stuck stage or a failing store and puts the station into Error.

A stage that has held one part for longer than ``stall_timeout_s`` is stuck (a hung camera driver, a
model that never returns, a disk that blocks). While in Error the acquire stage records every new
trigger as NOT_INSPECTED at once, so no PASS is ever reported for a part that was not inspected.
The heartbeat the PLC watches ticks only while the station is Operational and nothing is stuck.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Sequence
from typing import TYPE_CHECKING

from inspect_app.stages import StageMonitor
from inspect_app.types import Severity

if TYPE_CHECKING:
    from inspect_app.station import Station


class Supervisor:
    def __init__(self, station: Station, stall_timeout_s: float, period_s: float = 0.25) -> None:
        self.station = station
        self.stall_timeout_s = stall_timeout_s
        self.period_s = period_s
        self._monitors: Sequence[StageMonitor] = ()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._problem: str | None = None

    def start(self, monitors: Sequence[StageMonitor]) -> None:
        self._monitors = monitors
        self._thread = threading.Thread(target=self._run, name="station-supervisor", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread:
            self._thread.join(2.0)

    def problem(self) -> str | None:
        """The current reason the station must not inspect (None when all is well)."""
        return self._problem

    def check(self) -> str | None:
        now = time.monotonic()
        for mon in self._monitors:
            busy, part = mon.stuck_for(now)
            if busy > self.stall_timeout_s:
                return f"stage '{mon.name}' stuck for {busy:.1f}s on part {part}"
        store = self.station._store
        if store is not None and not getattr(store, "healthy", True):
            return "results store cannot commit (see the store's error events)"
        return None

    def _run(self) -> None:
        station = self.station
        while not self._stop.wait(self.period_s):
            problem = self.check()
            if problem and problem != self._problem:
                station._emit("supervisor", Severity.ERROR, problem)
                station.go_error("STAGE_STALLED" if "stage" in problem else "STORE_ERROR", problem)
            elif not problem and self._problem:
                station._emit("supervisor", Severity.INFO, f"recovered: {self._problem}")
            self._problem = problem
            if problem is None and station.state.operational:
                station.heartbeat += 1
