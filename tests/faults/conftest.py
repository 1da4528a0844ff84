"""Fault injection against the real station: real SQLite, real sockets, real files; fakes only for the
camera and the model where the fault is theirs to script."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from inspect_app.config import StationConfig, parse_config
from inspect_app.station import Station
from inspect_app.testing.fakes import ScriptedDetector


def _make_config(tmp_path: Path, **over: Any) -> StationConfig:
    data: dict = {
        "station": {"name": "fault-station"},
        "state_dir": str(tmp_path / "state"),
        "trigger": {"mode": "software", "queue_size": 16},
        "pipeline": {"stall_timeout_s": 1.0},
        "store": {"save_pass_every": 0, "commit_interval_ms": 5, "reserve_mb": 0},
        "recipes": {"r": {"model": "fake", "min_conf": 0.5}},
        "active_recipe": "r",
    }
    data.update(over)
    return parse_config(data)


@pytest.fixture
def make_config() -> Any:
    """``make_config(tmp_path, **sections)``: a software-triggered station on the fake model."""
    return _make_config


@pytest.fixture
def detector() -> ScriptedDetector:
    return ScriptedDetector()


@pytest.fixture
def started() -> Any:
    """``started(cfg, source, detector, **kw)`` -> a running Station, stopped after the test."""
    stations: list[Station] = []

    def _start(cfg: StationConfig, source: Any, det: Any, **kw: Any) -> Station:
        st = Station(cfg, source=source, detectors={"fake": det}, **kw)
        st.start()
        stations.append(st)
        return st

    yield _start
    for st in stations:
        st.stop(timeout=10)
