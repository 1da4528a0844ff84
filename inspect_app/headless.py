"""Run the station without a window: status lines on stdout, graceful stop on SIGINT/SIGTERM.

Started and stopped through the same ``RunSession`` as the window, so the state-dir lock, the control socket
and the links' failure policy are the same in both.
"""

from __future__ import annotations

import logging
import signal
import threading
import time

from inspect_app.config import StationConfig
from inspect_app.run_session import RunSession, SessionError
from inspect_app.station import StartupError, Station
from inspect_app.types import Severity, StatusEvent

log = logging.getLogger(__name__)


def run_headless(cfg: StationConfig, max_parts: int | None = None, status_every_s: float = 2.0) -> int:
    stop = threading.Event()

    def _on_signal(signum: int, _frame: object) -> None:
        log.info("%s received: stopping (queued results are flushed first)", signal.Signals(signum).name)
        stop.set()

    def _on_event(ev: StatusEvent) -> None:
        if ev.severity == Severity.ERROR:
            print(f"ALARM [{ev.kind}] {ev.message}", flush=True)

    session = RunSession(cfg, lambda: Station(cfg, max_parts=max_parts), on_event=_on_event)
    try:
        session.open()
    except SessionError as exc:
        print(f"cannot start: {exc}", flush=True)
        return 2
    previous = {s: signal.signal(s, _on_signal) for s in (signal.SIGINT, signal.SIGTERM)}
    started = time.monotonic()
    try:
        try:
            station = session.start()
        except (StartupError, SessionError) as exc:
            print(f"cannot start: {exc}", flush=True)
            return 2
        _print_started(cfg, station, started)
        while not stop.is_set():
            if max_parts is not None and station.counters["total"] >= max_parts:
                break
            if station.finished.is_set() and max_parts is None:
                break
            stop.wait(min(status_every_s, 0.2) if max_parts else status_every_s)
            if not stop.is_set():
                _print_status(station, session)
        problem = session.stop()
        _print_status(station, None, final=True)
        if problem:
            print(f"stopped with a problem: {problem}", flush=True)
            return 1
        return 0
    finally:
        session.stop()
        session.close()
        for s, handler in previous.items():
            signal.signal(s, handler)


def _print_started(cfg: StationConfig, station: Station, started: float) -> None:
    # the model as it runs: precision auto's choice and the timings that made it
    model = station.health().model.detail
    head = f"station {cfg.station.name} {station.state}; recipe {station.recipe}; model {model}"
    if cfg.trigger.mode != "free_run":  # parts come when triggered: nothing to wait for here
        print(f"{head}; waiting for {cfg.trigger.mode} triggers", flush=True)
        return
    if station.wait_for_results(1, timeout=30):
        print(f"{head}; first verdict after {time.monotonic() - started:.2f}s", flush=True)
    else:
        print(f"{head}; no verdict within 30s ({station.health().status_line()})", flush=True)


def _print_status(station: Station, session: RunSession | None, final: bool = False) -> None:
    c = station.counters
    last = station.last_result
    tail = ""
    if last is not None:
        i = last.inspection
        tail = f" | last {i.part_id} {i.verdict} {i.timings_ms.get('total', 0):.0f}ms"
    head = "final" if final else str(station.state)
    line = (
        f"[{head}] total {c['total']} pass {c['pass']} fail {c['fail']} not-inspected {c['not_inspected']} "
        f"yield {c['yield_pct']:.1f}%{tail}"
    )
    snapshot = session.health() if session is not None else None
    if snapshot is not None and not snapshot.ok:
        line += f" | {snapshot.status_line()}"
    print(line, flush=True)
