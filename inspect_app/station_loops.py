"""The station's worker loops (a mixin of ``Station``): which part is acquired next, and what happens to
parts still queued at a stop or to results on their way to the listeners. Kept apart from station.py so
the public API stays readable; these run on the acquire and signal threads, never on a caller's."""

from __future__ import annotations

import logging
import queue
import time
from typing import TYPE_CHECKING

from inspect_app.pipeline import AcquireWorker, make_inspection, stop_marker
from inspect_app.rules import not_inspected
from inspect_app.sources.pacing import Pacer
from inspect_app.types import CommittedInspection

if TYPE_CHECKING:
    from inspect_app.handoff import Handoff
    from inspect_app.station import Station

log = logging.getLogger(__name__)


class StationLoops:
    def _acquire_loop(self: Station) -> None:
        assert self.acquire is not None
        acq = self.acquire
        acq.ensure_open()
        if self.config.trigger.mode == "free_run":
            self._free_run(acq)
        # triggered parts; after a free run ends (max_parts, a finite source) triggers are still honoured
        while True:
            try:
                request = self._triggers.get(timeout=0.1)
            except queue.Empty:
                if self._stop.is_set():
                    return
                if not acq.source_open:
                    acq.ensure_open()
                continue
            acq.process(request, self._stop)

    def _free_run(self: Station, acq: AcquireWorker) -> None:
        pacer = Pacer(self.config.trigger.rate_hz)
        issued = 0
        while not self._stop.is_set() and not acq.exhausted:
            # a trigger (software, PLC) goes first: it is a real part somebody waits for
            while not self._stop.is_set():
                try:
                    acq.process(self._triggers.get_nowait(), self._stop)
                except queue.Empty:
                    break
            if self._max_parts is not None and issued >= self._max_parts:
                self.finished.set()
                return
            pacer.wait()
            if not acq.ensure_open():
                self._stop.wait(0.2)
                continue
            issued += 1
            acq.process(self._new_request("free_run"), self._stop)

    def _put_detect_stop(self: Station, deadline: float) -> None:
        while time.monotonic() < deadline:
            try:
                self._detect_q.put(stop_marker(), timeout=0.2)
                return
            except queue.Full:
                if not self._detect_alive():
                    return

    def _record_leftovers(self: Station) -> None:
        """Parts still queued when a stuck stage outlived the stop timeout: recorded, not lost."""
        for q in (self._detect_q, self._triggers):
            self._record_queued(q, "SHUTDOWN", "station stopped before inspection")

    def _record_queued(self: Station, q: Handoff, code: str, message: str) -> None:
        """Record NOT_INSPECTED every part still waiting in ``q`` (requests or acquired frames)."""
        while True:
            try:
                item = q.get_nowait()
            except queue.Empty:
                return
            if item is stop_marker():
                continue
            request = getattr(item, "request", item)
            frame = getattr(item, "frame", None)
            insp = make_inspection(self, request, not_inspected(code, message), frame=frame)
            self._store.submit(insp, block=False)  # type: ignore[union-attr]

    def _signal_loop(self: Station) -> None:
        monitor = self.signal_monitor
        while True:
            item = self._signal_q.get()
            if item is stop_marker():
                return
            is_result = isinstance(item, CommittedInspection)
            monitor.begin(item.inspection.part_id if is_result else None)
            try:
                for listener in list(self._result_listeners if is_result else self._event_listeners):
                    try:
                        listener(item)
                    except Exception:  # stage boundary: one broken sink must not stop the others
                        log.exception("signal listener %r failed", listener)
            finally:
                monitor.end()
