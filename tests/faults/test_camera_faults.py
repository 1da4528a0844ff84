"""Cases 2 and 3 against a real MJPEG-over-HTTP camera on loopback and the real OpenCV source: no stale
picture is ever judged (whatever the camera and trigger rates), a lost camera is an Error, a frozen picture
gets no PASS and its Error does not flap with reconnects, and 20 unplug/replug cycles leave no trigger
without a row."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from inspect_app.state import StationState
from inspect_app.station import Station
from inspect_app.testing.fakes import ScriptedDetector, wait_until
from inspect_app.testing.mjpeg_camera import MjpegCamera
from inspect_app.testing.records import rows


@pytest.fixture
def camera() -> Iterator[MjpegCamera]:
    cam = MjpegCamera(fps=30).start()
    yield cam
    cam.stop()


def _station(tmp_path: Path, make_config: Any, url: str, trigger: dict, **source: Any) -> Station:
    cfg = make_config(
        tmp_path,
        trigger=trigger,
        source={"kind": "opencv", "uri": url, "open_timeout_s": 3.0, "read_timeout_s": 1.0, "stale_after": 3,
                "stale_clear_after": 5, "reconnect_min_s": 0.1, "reconnect_max_s": 0.4, **source},
    )  # fmt: skip
    st = Station(cfg, detectors={"fake": ScriptedDetector()})
    st.start()
    return st


def _age_ms(row: Any) -> float:
    return float(json.loads(row["timings"])["frame_age"])


@pytest.mark.parametrize(
    ("camera_fps", "trigger"),
    [
        (10, {"mode": "free_run", "rate_hz": 5}),  # camera faster than the line: the old backlog case
        (30, {"mode": "free_run", "rate_hz": 20}),
        (5, {"mode": "free_run", "rate_hz": 20}),  # camera slower than the line
        (10, {"mode": "software"}),
    ],
)
def test_stream_frames_are_fresh_at_any_camera_and_trigger_rate(
    tmp_path: Path, make_config: Any, camera_fps: int, trigger: dict
) -> None:
    cam = MjpegCamera(fps=camera_fps).start()
    try:
        st = _station(tmp_path, make_config, cam.url, trigger)
        limit_ms = st._max_frame_age() * 1000
        deadline = time.monotonic() + 3.0
        n = 0
        while time.monotonic() < deadline:
            if trigger["mode"] == "software":
                st.trigger(f"p{n}")
                n += 1
                time.sleep(0.3)
            else:
                time.sleep(0.1)
        st.stop()
    finally:
        cam.stop()
    got = rows(st.config)
    judged = [r for r in got if r["verdict"] != "NOT_INSPECTED"]
    assert len(judged) >= 5, [r["error_code"] for r in got]
    assert all(_age_ms(r) <= limit_ms for r in judged), [_age_ms(r) for r in judged]
    frame_ids = [r["frame_id"] for r in judged]
    assert len(frame_ids) == len(set(frame_ids)), "a frame was judged twice"
    stale = [r for r in got if r["error_code"] == "STALE_FRAME"]
    assert all(r["verdict"] == "NOT_INSPECTED" for r in stale)


def test_lost_camera_is_an_error_and_no_later_picture_passes(
    tmp_path: Path, make_config: Any, camera: MjpegCamera
) -> None:
    st = _station(tmp_path, make_config, camera.url, {"mode": "free_run", "rate_hz": 20})
    assert st.wait_for_results(3, 10)
    cut = time.time()
    camera.stop()
    assert wait_until(lambda: st.state == StationState.ERROR, 10)
    assert st.error_code == "CAMERA_ERROR" and not st.health().camera.ok
    back = time.time()
    camera.start()
    assert wait_until(lambda: st.state == StationState.CONTINUOUS, 15), st.health().status_line()
    st.stop()
    # a frame in flight at the cut may land a frame period later; nothing after that until the camera is back
    late = [r for r in rows(st.config) if r["verdict"] == "PASS" and cut + 0.1 < r["epoch"] < back]
    assert late == [], [(round(r["epoch"] - cut, 3), r["frame_id"], r["timings"]) for r in late]


def test_frozen_picture_gets_no_pass_and_its_error_survives_reconnects(
    tmp_path: Path, make_config: Any, camera: MjpegCamera
) -> None:
    st = _station(tmp_path, make_config, camera.url, {"mode": "free_run", "rate_hz": 20})
    assert st.wait_for_results(3, 10)
    frozen_at = time.time()
    camera.mode = "freeze"
    assert wait_until(lambda: st.state == StationState.ERROR, 10)
    for _ in range(3):  # the link drops and comes back while the picture stays frozen
        camera.stop()
        time.sleep(0.3)
        camera.start()
        camera.mode = "freeze"
        time.sleep(0.7)
        assert st.state == StationState.ERROR, "a reconnect cleared the frozen-picture Error"
    thawed_at = time.time()
    camera.mode = "live"
    assert wait_until(lambda: st.state == StationState.CONTINUOUS, 15), st.health().status_line()
    st.stop()
    judged = [r for r in rows(st.config) if r["verdict"] != "NOT_INSPECTED"]
    passed_frozen = [r for r in judged if frozen_at + 0.2 < r["epoch"] < thawed_at]
    assert passed_frozen == [], f"{len(passed_frozen)} frozen frames were judged"


def test_unplug_and_replug_twenty_times_every_trigger_gets_a_row(
    tmp_path: Path, make_config: Any, camera: MjpegCamera
) -> None:
    st = _station(tmp_path, make_config, camera.url, {"mode": "software", "queue_size": 64})
    assert wait_until(lambda: st.health().camera.state == "streaming", 10)
    triggered = 0
    for cycle in range(20):
        st.trigger(f"live-{cycle}")
        triggered += 1
        camera.stop()
        assert wait_until(lambda: st.state == StationState.ERROR, 10), f"cycle {cycle}: loss not seen"
        st.trigger(f"out-{cycle}")  # while unplugged: recorded NOT_INSPECTED, not waiting forever
        triggered += 1
        camera.start()
        assert wait_until(lambda: st.state == StationState.READY, 15), f"cycle {cycle}: no recovery"
    assert st.wait_for_results(triggered, 20)
    source = st._source
    st.stop()
    got = {r["part_id"]: r for r in rows(st.config)}
    assert len(got) == triggered
    assert all(got[f"out-{c}"]["verdict"] == "NOT_INSPECTED" for c in range(20))
    assert source.reconnects >= 20


def test_damaged_frames_from_an_mjpeg_camera_are_never_judged(
    tmp_path: Path, make_config: Any, camera: MjpegCamera
) -> None:
    st = _station(tmp_path, make_config, camera.url, {"mode": "free_run", "rate_hz": 20})
    assert st.wait_for_results(3, 10)
    start = time.time()
    camera.mode = "corrupt"
    assert wait_until(lambda: st.state == StationState.ERROR, 10)  # a run of damaged frames is a camera fault
    assert st.error_code == "CAMERA_ERROR" and st.health().camera.state == "damaged"
    time.sleep(1.0)
    end = time.time()
    camera.mode = "live"
    assert wait_until(lambda: st.state == StationState.CONTINUOUS, 15)
    st.stop()
    got = rows(st.config)
    corrupt = [r for r in got if r["error_code"] == "IMAGE_CORRUPT"]
    judged_in_window = [r for r in got if r["verdict"] != "NOT_INSPECTED" and start + 0.1 < r["epoch"] < end]
    assert len(corrupt) >= 1 and judged_in_window == []
