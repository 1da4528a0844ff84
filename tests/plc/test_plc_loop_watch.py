"""The OPC UA link's event loop is watched by the station's supervisor like the station's own workers: a loop
thread that dies, or a loop that stops turning (a coroutine that blocks it), puts the station into Error."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

from inspect_app.state import StationState
from plc.testing import Running, free_port, open_server, station_config, wait_until


def test_a_dead_server_loop_is_an_error(tmp_path: Path, start_station: Callable[..., Running]) -> None:
    r = start_station(station_config(tmp_path, open_server(free_port())))
    lt = r.link._lt  # type: ignore[union-attr]  # the link's loop thread
    lt.loop.call_soon_threadsafe(lt.loop.stop)  # the loop ends without the link stopping it
    assert wait_until(lambda: r.station.state == StationState.ERROR, 10)
    assert r.station.error_code == "WORKER_DIED" and "opcua-server" in (r.station.error_text or "")


def test_a_blocked_server_loop_is_a_stall(tmp_path: Path, start_station: Callable[..., Running]) -> None:
    cfg = station_config(tmp_path, open_server(free_port()), pipeline={"stall_timeout_s": 0.5})
    r = start_station(cfg)
    lt = r.link._lt  # type: ignore[union-attr]
    lt.loop.call_soon_threadsafe(time.sleep, 2.0)  # a blocking call inside the loop
    assert wait_until(lambda: r.station.state == StationState.ERROR, 10)
    assert r.station.error_code == "STAGE_STALLED" and "opcua-server" in (r.station.error_text or "")
    assert wait_until(lambda: r.station.supervisor.problem() is None, 10)  # turning again
