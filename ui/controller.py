"""Starts and stops the station for the window, off the Qt thread, the way ``headless`` runs it.

Start loads and verifies every model (seconds) and a stop flushes every queued result to the DB (up to the
station's stop timeout): both run in a worker thread, and the window hears about the outcome through Qt
signals (queued to the Qt thread). Around the station, as in headless mode: the control socket (so
``inspect-app trigger/recipe/status`` work while the window is open) and the station's links (OPC UA),
started after the station and stopped before it.

A stopped ``Station`` cannot be started again, so each start builds a new one with ``factory``.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable

from PyQt6.QtCore import QObject, pyqtSignal

from inspect_app.control import SOCKET_NAME, ControlServer
from inspect_app.links import StationLink, build_links
from inspect_app.station import StartupError, Station
from inspect_app.types import Severity, StatusEvent
from ui.feed import StationFeed
from ui.priority import Launcher

log = logging.getLogger(__name__)

LinksFactory = Callable[[Station], list[StationLink]]


class StationController(QObject):
    started = pyqtSignal(object)  # the Station
    start_failed = pyqtSignal(str)
    stopped = pyqtSignal()

    def __init__(
        self,
        factory: Callable[[], Station],
        feed: StationFeed,
        *,
        links: LinksFactory | None = None,
        control_socket: bool = True,
        launcher: Launcher | None = None,
    ) -> None:
        super().__init__()
        self._factory = factory
        self._feed = feed
        self._links_factory = links or (lambda st: build_links(st.config))
        self._control_socket = control_socket
        self.station: Station | None = None
        self.links: list[StationLink] = []
        self._control: ControlServer | None = None
        self._busy = threading.Lock()  # one start or stop at a time
        self._worker: threading.Thread | None = None
        self.last_error: str | None = None
        # made now, before the window lowers the Qt thread's priority: stations start at the normal one
        self._launcher = launcher or Launcher()

    @property
    def busy(self) -> bool:
        return self._busy.locked()

    @property
    def running(self) -> bool:
        return self.station is not None

    def start(self) -> bool:
        """Start a new station in the background; False when one runs or a start/stop is under way."""
        if self.running or not self._busy.acquire(blocking=False):
            return False
        self._spawn(self._start, "ui-station-start")
        return True

    def stop(self) -> bool:
        """Graceful stop in the background (links, control socket, then the station flushes its queues)."""
        if not self.running or not self._busy.acquire(blocking=False):
            return False
        self._spawn(self._stop, "ui-station-stop")
        return True

    def wait(self, timeout: float | None = None) -> None:
        """For tests and shutdown: wait for a start or stop under way."""
        if self._worker is not None:
            self._worker.join(timeout)

    def spawn(self, target: Callable[[], None], name: str) -> threading.Thread:
        """Run ``target`` in a new thread of the station's (normal) priority, not the window's."""
        return self._launcher.spawn(target, name)

    def _spawn(self, target: Callable[[], None], name: str) -> None:
        self._worker = self.spawn(target, name)

    def _start(self) -> None:
        station = None
        try:
            station = self._factory()
            station.add_result_listener(self._feed.on_result)
            station.add_event_listener(self._feed.on_event)
            station.start()
        except Exception as exc:  # thread boundary: a start that fails must reach the operator, not a log
            if not isinstance(exc, StartupError):
                log.exception("station start failed")
            self._release_failed(station)
            self._fail(str(exc) if isinstance(exc, StartupError) else f"{type(exc).__name__}: {exc}")
            return
        try:
            if self._control_socket:
                self._control = ControlServer(station, station.state_dir / SOCKET_NAME)
                self._control.start()
            self.links = self._start_links(station)
        finally:
            self.station = station
            self.last_error = None
            self._busy.release()
        self.started.emit(station)

    def _start_links(self, station: Station) -> list[StationLink]:
        started = []
        for link in self._links_factory(station):
            try:
                link.start(station)
                started.append(link)
            except Exception as exc:  # one link's failure (port taken) must not take the station down
                log.exception("link %s failed to start", getattr(link, "name", link))
                msg = f"link {link.name} not started: {exc}"
                self._feed.on_event(StatusEvent("link", Severity.ERROR, msg))
        return started

    @staticmethod
    def _release_failed(station: Station | None) -> None:
        """A start can fail after the results store was opened; stop() closes whatever was opened."""
        if station is None:
            return
        try:
            station.stop(timeout=5.0)
        except Exception:  # already failing: the start error is the one to report
            log.exception("cleaning up after a failed start")

    def _fail(self, message: str) -> None:
        self.last_error = message
        self._busy.release()
        self.start_failed.emit(message)

    def _stop(self) -> None:
        station, links, control = self.station, self.links, self._control
        error = None
        try:
            for link in links:
                try:
                    link.stop()
                except Exception:  # keep stopping the rest: the station must still flush its results
                    log.exception("link %s failed to stop", getattr(link, "name", link))
            if control is not None:
                control.stop()
            if station is not None:
                try:
                    station.stop()
                except Exception as exc:  # e.g. the DB did not flush in time: the window must say so
                    log.exception("station stop failed")
                    error = f"{type(exc).__name__}: {exc}"
        finally:
            self.station, self.links, self._control = None, [], None
            self.last_error = error
            self._busy.release()
        self.stopped.emit()
