"""Yield is of decided parts, the same in the station's counters, the reports and the PLC's YieldPct."""

from __future__ import annotations

from pathlib import Path

from inspect_app.config import parse_config
from inspect_app.metrics import yield_pct
from inspect_app.station import Station
from inspect_app.testing.fakes import ScriptedDetector, ScriptedSource, part_image


def test_yield_is_of_decided_parts() -> None:
    assert yield_pct(3, 1) == 75.0
    assert yield_pct(0, 0) is None
    assert yield_pct(2, 1) == 66.67


def test_station_counters_leave_parts_not_inspected_out_of_the_yield(tmp_path: Path) -> None:
    cfg = parse_config(
        {
            "state_dir": str(tmp_path),
            "trigger": {"mode": "software"},
            "store": {"reserve_mb": 0},
            "recipes": {"r": {"model": "fake"}},
            "active_recipe": "r",
        }
    )
    script = [part_image(False), part_image(False), part_image(True), RuntimeError("unreadable frame")]
    st = Station(cfg, source=ScriptedSource(script), detectors={"fake": ScriptedDetector()})
    st.start()
    for i in range(4):
        st.trigger(f"p{i}")
    assert st.wait_for_results(4, 10)
    c = st.counters
    st.stop()
    assert (c["pass"], c["fail"], c["not_inspected"]) == (2, 1, 1)
    assert c["yield_pct"] == 66.67  # 2 / (2 + 1), not 2 / 4
