"""One run session: how a station is started and stopped with everything around it, for headless and window.

Headless (``inspect-app run``/``demo`` without a display) and the operator window used to start the station,
its control socket and its links each their own way, with different policies when the PLC link failed (the
window ran on without it). Both now go through this class:

* ``open()`` takes the state directory's lock for the life of the session (``state_dir_lock``): a second
  station on the same state dir is refused at once, naming the PID that holds it, and touches nothing;
* ``start()`` starts the station, then the control socket, then every configured link. A link that cannot
  start stops the start (the started links, the socket and the station are stopped again) and raises
  ``SessionError``: a station told to talk to a PLC never runs silently without it;
* ``stop()`` stops the links, the socket, then the station (which flushes every queued result, or journals
  it), and returns what went wrong as text instead of raising;
* ``health()`` is the station's health snapshot with each link's state, security mode included.

A stopped Station cannot be started again, so each ``start()`` builds a new one with ``factory``.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from inspect_app.config import StationConfig
from inspect_app.control import SOCKET_NAME, ControlServer
from inspect_app.health import HealthSnapshot, link_health
from inspect_app.links import StationLink, build_links
from inspect_app.state_dir_lock import StateDirBusy, StateDirLock
from inspect_app.station import Station
from inspect_app.store.schema import StoreError
from inspect_app.types import CommittedInspection, StatusEvent

log = logging.getLogger(__name__)

LinksFactory = Callable[[Station], list[StationLink]]


class SessionError(RuntimeError):
    """The session cannot start (state dir in use, a link that cannot start); the message says why."""


class RunSession:
    def __init__(
        self,
        config: StationConfig | None,
        factory: Callable[[], Station] | None = None,
        *,
        links: LinksFactory | None = None,
        control_socket: bool = True,
        on_result: Callable[[CommittedInspection], None] | None = None,
        on_event: Callable[[StatusEvent], None] | None = None,
    ) -> None:
        if config is None and factory is None:
            raise ValueError("a run session needs a config or a station factory")
        self.config = config  # None: taken from the first station the factory builds
        self._factory = factory or (lambda: Station(config))  # type: ignore[arg-type]
        self._links_factory = links or (lambda st: build_links(st.config))
        self._control_socket = control_socket
        self._on_result = on_result
        self._on_event = on_event
        self._lock: StateDirLock | None = None
        self._last_counters: dict[str, float] | None = None  # of the station this session stopped last
        self.station: Station | None = None
        self.links: list[StationLink] = []
        self._control: ControlServer | None = None

    # ------------------------------------------------------------------ lifetime
    def open(self) -> None:
        """Take the state dir for this session; raises SessionError naming who holds it."""
        if self._lock is None and self.config is not None:
            try:
                self._lock = StateDirLock.acquire(self.config.state_dir, role="session")
            except StateDirBusy as exc:
                raise SessionError(str(exc)) from None

    def close(self) -> None:
        if self._lock is not None:
            self._lock.release()
            self._lock = None

    def __enter__(self) -> RunSession:
        self.open()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()
        self.close()

    # ------------------------------------------------------------------ start and stop
    def start(self, who: str = "system", role: str = "system") -> Station:
        """Station, control socket, links; raises StartupError (the station's) or SessionError.

        A new station counts from 0: when the one before it had counted parts, that is recorded in the
        audit table as a counter reset by ``who`` (the operator who pressed Start, or "system")."""
        self.open()
        if self.station is not None:
            raise SessionError("a station is already running in this session")
        station = self._factory()
        if self.config is None:
            self.config = station.config
            self.open()
        if self._on_result is not None:
            station.add_result_listener(self._on_result)
        if self._on_event is not None:
            station.add_event_listener(self._on_event)
        station.start()  # StartupError: nothing else was started
        self.station = station
        before, self._last_counters = self._last_counters, None
        if before and before.get("total"):
            why = "station restarted: counters start at 0"
            station.audit(who, role, "counters.reset", "counters", before, why)
        try:
            if self._control_socket:
                self._control = ControlServer(station, station.state_dir / SOCKET_NAME, health=self.health)
                self._control.start()
            self._start_links(station)
        except Exception as exc:  # noqa: BLE001 -- start boundary: undo what was started, say why in one line
            problem = self.stop()
            msg = str(exc) if isinstance(exc, SessionError) else f"{type(exc).__name__}: {exc}"
            raise SessionError(msg + (f" (and stopping: {problem})" if problem else "")) from None
        return station

    def _start_links(self, station: Station) -> None:
        for link in self._links_factory(station):
            try:
                link.start(station)
            except Exception as exc:  # noqa: BLE001 -- a plugin's own error types: any failure stops the start
                log.warning("link %s failed to start: %s", getattr(link, "name", link), exc)
                raise SessionError(f"cannot start link {getattr(link, 'name', link)}: {exc}") from None
            self.links.append(link)
            log.info("link %s: %s", link.name, _status(link).get("detail", "started"))

    def stop(self) -> str | None:
        """Links, control socket, station. Never raises; returns what went wrong, or None."""
        problems: list[str] = []
        for link in reversed(self.links):  # links stop before the station (see inspect_app.links)
            try:
                link.stop()
            except Exception as exc:  # keep stopping the rest: the station must still flush its results
                log.exception("link %s failed to stop", getattr(link, "name", link))
                problems.append(f"link {getattr(link, 'name', link)}: {exc}")
        self.links = []
        if self._control is not None:
            self._control.stop()
            self._control = None
        station, self.station = self.station, None
        if station is not None:
            self._last_counters = station.counters
            try:
                station.stop()
            except StoreError as exc:
                problems.append(str(exc))
            except Exception as exc:  # e.g. a stage that would not stop: say so, do not hide the rest
                log.exception("station stop failed")
                problems.append(f"{type(exc).__name__}: {exc}")
        return "; ".join(problems) or None

    # ------------------------------------------------------------------ health
    def health(self) -> HealthSnapshot | None:
        station = self.station
        if station is None:
            return None
        links = tuple(link_health(ln.name, _status(ln)) for ln in list(self.links))
        return station.health().with_links(links)


def _status(link: StationLink) -> dict:
    try:
        return dict(link.status())
    except Exception as exc:  # a link's status must not break the health of the others
        log.exception("status of link %s failed", getattr(link, "name", link))
        return {"connected": False, "secured": False, "detail": f"status failed: {exc}"}
