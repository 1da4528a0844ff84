"""Run the station without a window: status lines on stdout, graceful stop on SIGINT/SIGTERM."""

from __future__ import annotations

import logging
import signal
import threading
import time

from inspect_app.config import StationConfig
from inspect_app.control import SOCKET_NAME, ControlServer
from inspect_app.links import StationLink, build_links
from inspect_app.station import StartupError, Station
from inspect_app.types import Severity, StatusEvent

log = logging.getLogger(__name__)


def run_headless(cfg: StationConfig, max_parts: int | None = None, status_every_s: float = 2.0) -> int:
    station = Station(cfg, max_parts=max_parts)
    stop = threading.Event()

    def _on_signal(signum: int, _frame: object) -> None:
        log.info("%s received: stopping (queued results are flushed first)", signal.Signals(signum).name)
        stop.set()

    previous = {s: signal.signal(s, _on_signal) for s in (signal.SIGINT, signal.SIGTERM)}

    def _on_event(ev: StatusEvent) -> None:
        if ev.severity == Severity.ERROR:
            print(f"ALARM [{ev.kind}] {ev.message}", flush=True)

    station.add_event_listener(_on_event)
    started = time.monotonic()
    try:
        station.start()
    except StartupError as exc:
        print(f"cannot start: {exc}", flush=True)
        return 2
    links = _start_links(cfg, station)
    if links is None:
        station.stop()
        return 2
    control = ControlServer(station, cfg.state_dir / SOCKET_NAME)
    control.start()
    first = station.wait_for_results(1, timeout=30 if cfg.trigger.mode == "free_run" else 0)
    print(
        f"station {cfg.station.name} {station.state}; recipe {station.recipe}; "
        f"first verdict after {time.monotonic() - started:.2f}s"
        if first
        else "no verdict within 30s",
        flush=True,
    )
    try:
        while not stop.is_set():
            if max_parts is not None and station.counters["total"] >= max_parts:
                break
            if station.finished.is_set() and max_parts is None:
                break
            stop.wait(min(status_every_s, 0.2) if max_parts else status_every_s)
            if not stop.is_set():
                _print_status(station)
    finally:
        control.stop()
        for link in reversed(links):  # links stop before the station (see inspect_app.links)
            link.stop()
        station.stop()
        for s, handler in previous.items():
            signal.signal(s, handler)
    _print_status(station, final=True)
    return 0


def _start_links(cfg: StationConfig, station: Station) -> list[StationLink] | None:
    """Start every configured link after the station; None (and the started ones stopped) if one cannot
    start: a station that was told to talk to a PLC must not run silently without it."""
    started: list[StationLink] = []
    for link in build_links(cfg):
        try:
            link.start(station)
        except (RuntimeError, OSError) as exc:
            print(f"cannot start link {link.name}: {exc}", flush=True)
            for other in reversed(started):
                other.stop()
            return None
        started.append(link)
        log.info("link %s: %s", link.name, link.status().get("detail", "started"))
    return started


def _print_status(station: Station, final: bool = False) -> None:
    c = station.counters
    last = station.last_result
    tail = ""
    if last is not None:
        i = last.inspection
        tail = f" | last {i.part_id} {i.verdict} {i.timings_ms.get('total', 0):.0f}ms"
    head = "final" if final else str(station.state)
    print(
        f"[{head}] total {c['total']} pass {c['pass']} fail {c['fail']} not-inspected {c['not_inspected']} "
        f"yield {c['yield_pct']:.1f}%{tail}",
        flush=True,
    )
