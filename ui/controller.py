"""Starts and stops the station for the window, off the Qt thread, through ``RunSession`` as headless does.

Start loads and verifies every model (seconds) and a stop flushes every queued result to the DB (up to the
station's stop timeout): both run in a worker thread, and the window hears about the outcome through Qt
signals (queued to the Qt thread). The session holds the state dir's lock for the window's life, starts the
control socket (so ``inspect-app trigger/recipe/status`` work while the window is open) and the links, with
the same policy as headless: a link that cannot start stops the start, and the window says why.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable

from PyQt6.QtCore import QObject, pyqtSignal

from inspect_app.config import StationConfig
from inspect_app.health import HealthSnapshot
from inspect_app.links import StationLink
from inspect_app.run_session import LinksFactory, RunSession, SessionError
from inspect_app.station import StartupError, Station
from ui.feed import StationFeed
from ui.priority import Launcher

log = logging.getLogger(__name__)

__all__ = ["LinksFactory", "StationController"]


class StationController(QObject):
    started = pyqtSignal(object)  # the Station
    start_failed = pyqtSignal(str)
    stopped = pyqtSignal()

    def __init__(
        self,
        factory: Callable[[], Station],
        feed: StationFeed,
        *,
        config: StationConfig | None = None,
        links: LinksFactory | None = None,
        control_socket: bool = True,
        launcher: Launcher | None = None,
    ) -> None:
        super().__init__()
        self._feed = feed
        self.session = RunSession(
            config, factory, links=links, control_socket=control_socket,
            on_result=feed.on_result, on_event=feed.on_event,
        )  # fmt: skip
        self._busy = threading.Lock()  # one start or stop at a time
        self._worker: threading.Thread | None = None
        self.last_error: str | None = None
        # made now, before the window lowers the Qt thread's priority: stations start at the normal one
        self._launcher = launcher or Launcher()

    @property
    def station(self) -> Station | None:
        return self.session.station

    @property
    def links(self) -> list[StationLink]:
        return list(self.session.links)

    def health(self) -> HealthSnapshot | None:
        """The session's health snapshot (station and links); call it off the Qt thread."""
        return self.session.health()

    @property
    def busy(self) -> bool:
        return self._busy.locked()

    @property
    def running(self) -> bool:
        return self.station is not None

    def start(self, who: str = "operator", role: str = "operator") -> bool:
        """Start a new station in the background; False when one runs or a start/stop is under way.
        ``who``/``role`` sign the audit row that a restart's zeroed counters leave."""
        if self.running or not self._busy.acquire(blocking=False):
            return False
        self._spawn(lambda: self._start(who, role), "ui-station-start")
        return True

    def stop(self) -> bool:
        """Graceful stop in the background (links, control socket, then the station flushes its queues)."""
        if not self.running or not self._busy.acquire(blocking=False):
            return False
        self._spawn(self._stop, "ui-station-stop")
        return True

    def close(self) -> None:
        """The window is closing: release the state dir (after the last stop)."""
        self.wait(60.0)
        self.session.close()

    def wait(self, timeout: float | None = None) -> None:
        """For tests and shutdown: wait for a start or stop under way."""
        if self._worker is not None:
            self._worker.join(timeout)

    def spawn(self, target: Callable[[], None], name: str) -> threading.Thread:
        """Run ``target`` in a new thread of the station's (normal) priority, not the window's."""
        return self._launcher.spawn(target, name)

    def _spawn(self, target: Callable[[], None], name: str) -> None:
        self._worker = self.spawn(target, name)

    def _start(self, who: str, role: str) -> None:
        try:
            station = self.session.start(who, role)
        except Exception as exc:  # thread boundary: a start that fails must reach the operator, not a log
            if not isinstance(exc, StartupError | SessionError):
                log.exception("station start failed")
            known = isinstance(exc, StartupError | SessionError)
            self.last_error = str(exc) if known else f"{type(exc).__name__}: {exc}"
            self._busy.release()
            self.start_failed.emit(self.last_error)
            return
        self.last_error = None
        self._busy.release()
        self.started.emit(station)

    def _stop(self) -> None:
        try:
            self.last_error = self.session.stop()
        finally:
            self._busy.release()
        self.stopped.emit()
