"""A GigE Vision camera unplugged and plugged back, and a lossy link, against ``arv-fake-gv-camera-0.8`` on
127.0.0.1 (Aravis's fake GigE Vision camera in a process of its own, killed to pull the cable): the loss is an
Error, the camera is back by itself, every trigger gets a row and every frame id is accounted for."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from inspect_app.protocols import SourceError
from inspect_app.sources.camera_state import CameraState
from inspect_app.sources.genicam import GenicamSource
from inspect_app.state import StationState
from inspect_app.station import Station
from inspect_app.testing.fakes import ScriptedDetector, wait_until
from inspect_app.testing.genicam_fakes import FakeGvCamera, fake_config, request, skip_reason
from inspect_app.testing.records import rows

_WHY = skip_reason() or FakeGvCamera.missing()
pytestmark = pytest.mark.skipif(_WHY is not None, reason=_WHY or "")

_GV = {"camera": "127.0.0.1", "interfaces": ["GigEVision"], "roi": (0, 0, 64, 64), "frame_rate": 50.0}


@pytest.fixture
def gv() -> Iterator[FakeGvCamera]:
    cam = FakeGvCamera("GV01").start()
    yield cam
    cam.stop()


def test_unplugged_camera_is_lost_comes_back_and_every_frame_id_is_accounted(gv: FakeGvCamera) -> None:
    src = GenicamSource(fake_config(**_GV))
    try:
        src.open()
        for i in range(5):
            src.read_for(request(i), 2.0)
        gv.stop()
        assert wait_until(lambda: not src.status().ok, 10.0)
        assert src.status().code in ("NO_FRAMES", "DISCONNECTED")
        with pytest.raises(SourceError):
            src.read_for(request(9), 1.0)
        gv.start()
        assert wait_until(lambda: src.status().ok, 20.0)
        later = [src.read_for(request(i), 2.0) for i in range(10, 15)]
        assert all("genicam:GV01 frame" in f.origin for f in later)
        assert src.reconnects == 1
    finally:
        src.close()
    counts = src.counts()
    assert counts.sessions == 2 and counts.delivered == 10 and counts.unaccounted == 0


def test_lost_packets_make_incomplete_frames_that_are_counted_and_never_a_picture() -> None:
    lossy = FakeGvCamera("GV02", lost_per_thousand=100).start()  # 10 % of the packets never sent
    src = GenicamSource(fake_config(**{**_GV, "roi": (0, 0, 256, 256)}, stale_after=3))
    try:
        src.open()
        assert wait_until(lambda: src.status().state == CameraState.DAMAGED, 10.0)
        status = src.status()
        assert not status.ok and status.code == "DAMAGED_FRAMES"
        with pytest.raises(SourceError) as err:
            src.read_for(request(1), 1.0)
        assert err.value.code == "DAMAGED_FRAMES"
    finally:
        src.close()
        lossy.stop()
    counts = src.counts()
    assert counts.incomplete >= 3 and counts.unaccounted == 0


def test_station_unplug_and_replug_every_trigger_gets_a_row(
    tmp_path: Path, make_config: Any, gv: FakeGvCamera
) -> None:
    source = {"kind": "genicam", **_GV, "reconnect_min_s": 0.1, "reconnect_max_s": 0.5, "heartbeat_s": 0.2}
    cfg = make_config(tmp_path, source=source)
    st = Station(cfg, detectors={"fake": ScriptedDetector()})
    st.start()
    sent = 0
    try:
        for _ in range(5):
            st.trigger()
            sent += 1
        assert st.wait_for_results(sent, 10.0)
        gv.stop()
        assert wait_until(lambda: st.state == StationState.ERROR, 10.0)
        for _ in range(3):
            st.trigger()
            sent += 1
        gv.start()
        assert wait_until(lambda: st.state == StationState.READY, 20.0)
        for _ in range(5):
            st.trigger()
            sent += 1
        assert st.wait_for_results(sent, 20.0)
    finally:
        st.stop()
    recorded = rows(cfg)
    assert len(recorded) == sent
    judged = [r for r in recorded if r["verdict"] != "NOT_INSPECTED"]
    assert len(judged) >= 8 and all(r["origin"].startswith("genicam:GV01 frame ") for r in judged)
    # a camera counts its ids again after a restart: a frame is its id and its camera time
    frames = {re.search(r" frame (\d+) camera time (\d+) ns", r["origin"]).groups() for r in judged}
    assert len(frames) == len(judged) and len({r["frame_id"] for r in judged}) == len(judged)  # none twice
    assert {r["error_code"] for r in recorded if r["verdict"] == "NOT_INSPECTED"} <= {"CAMERA_ERROR"}
    events = [r["message"] for r in rows(cfg, "select message from events where kind = 'camera'")]
    assert any("back after" in m for m in events)
