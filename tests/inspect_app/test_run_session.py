"""The run session that headless and the window share: one owner of the state dir, one link policy, the
restart of a station audited, the stop transition recorded."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from inspect_app.config import parse_config
from inspect_app.run_session import RunSession, SessionError
from inspect_app.state import StationState
from inspect_app.station import Station
from inspect_app.testing.fakes import ScriptedDetector, ScriptedSource, part_image
from inspect_app.testing.records import event_messages, rows


def _config(tmp_path: Path) -> Any:
    return parse_config({"state_dir": str(tmp_path / "state"), "trigger": {"mode": "software"},
                         "store": {"reserve_mb": 0, "commit_interval_ms": 5},
                         "recipes": {"r": {"model": "fake"}}, "active_recipe": "r"})  # fmt: skip


def _factory(cfg: Any) -> Any:
    return lambda: Station(cfg, source=ScriptedSource([part_image(False)], loop=True),
                           detectors={"fake": ScriptedDetector()})  # fmt: skip


class BrokenLink:
    name = "opcua"

    def start(self, station: Station) -> None:
        raise OSError("address already in use")

    def stop(self) -> None:
        pass

    def status(self) -> dict:
        return {}


def test_a_restart_is_audited_and_the_stop_is_in_the_events(tmp_path: Path) -> None:
    cfg = _config(tmp_path)
    session = RunSession(cfg, _factory(cfg), control_socket=False, links=lambda st: [])
    st = session.start()
    for i in range(3):
        st.trigger(f"p{i}")
    assert st.wait_for_results(3, 10)
    assert session.stop() is None
    assert any("-> Halted: stopped" in m for m in event_messages(cfg))
    session.start(who="alice", role="operator")
    session.stop()
    session.close()
    audit = rows(cfg, "select who, action, old from audit")
    assert [(a["who"], a["action"]) for a in audit] == [("alice", "counters.reset")]
    assert '"total": 3' in audit[0]["old"]


def test_a_link_that_cannot_start_stops_the_start_and_leaves_nothing_running(tmp_path: Path) -> None:
    cfg = _config(tmp_path)
    session = RunSession(cfg, _factory(cfg), control_socket=False, links=lambda st: [BrokenLink()])
    with pytest.raises(SessionError, match="cannot start link opcua: address already in use"):
        session.start()
    assert session.station is None and session.links == []
    session.close()
    # the station that was started is halted and its state dir free again
    other = RunSession(cfg, _factory(cfg), control_socket=False, links=lambda st: [])
    st = other.start()
    assert st.state == StationState.READY
    other.stop()
    other.close()


def test_one_session_per_state_dir(tmp_path: Path) -> None:
    cfg = _config(tmp_path)
    first = RunSession(cfg, _factory(cfg), control_socket=False)
    first.open()
    second = RunSession(cfg, _factory(cfg), control_socket=False)
    with pytest.raises(SessionError, match="in use"):
        second.open()
    first.close()
    second.open()
    second.close()
