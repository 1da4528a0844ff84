"""The station on Aravis's in-process fake camera: a recipe changeover applies that recipe's camera settings
before its first part, audited, and each record shows which camera frame it judged and how it was matched."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from inspect_app.config import parse_config
from inspect_app.station import Station
from inspect_app.testing.fakes import ScriptedDetector
from inspect_app.testing.genicam_fakes import skip_reason
from inspect_app.testing.records import rows

pytestmark = pytest.mark.skipif(skip_reason() is not None, reason=skip_reason() or "")


def test_changeover_applies_the_recipes_camera_settings_audited_and_records_name_their_frame(
    tmp_path: Path,
) -> None:
    cfg = parse_config({
        "state_dir": str(tmp_path / "state"),
        "trigger": {"mode": "software"},
        "store": {"save_pass_every": 0, "commit_interval_ms": 5, "reserve_mb": 0},
        "source": {"kind": "genicam", "camera": "Fake_1", "interfaces": ["Fake"], "trigger": "software",
                   "roi": [0, 0, 64, 48], "exposure_us": 3000},
        "recipes": {"a": {"model": "fake", "camera": {"exposure_us": 1500, "gain": 2}},
                    "b": {"model": "fake"}},
        "active_recipe": "a",
    })  # fmt: skip
    st = Station(cfg, detectors={"fake": ScriptedDetector()})
    st.start()
    try:
        for _ in range(3):
            st.trigger()
        assert st.wait_for_results(3, 10.0)
        st.set_recipe("b", who="test")
        for _ in range(3):
            st.trigger()
        assert st.wait_for_results(6, 10.0)
    finally:
        st.stop()
    recorded = rows(cfg)
    assert len(recorded) == 6 and all(r["verdict"] in ("PASS", "FAIL") for r in recorded)  # all judged
    matched = re.compile(r"genicam:\S+ frame \d+ camera time \d+ ns; TriggerSoftware for trigger \d+")
    assert all(matched.match(r["origin"]) for r in recorded)
    audits = rows(cfg, "select * from audit where action = 'camera.settings' order by id")
    assert [(a["target"], json.loads(a["new"])) for a in audits] == [
        ("a", {"ExposureTime": "1500", "Gain": "2"}),
        ("b", {"ExposureTime": "3000", "Gain": "0"}),  # b has no camera table: [source] exposure, gain back
    ]
    events = [r["message"] for r in rows(cfg, "select message from events where kind = 'camera'")]
    assert any("settings of recipe b applied (changeover)" in m for m in events)
