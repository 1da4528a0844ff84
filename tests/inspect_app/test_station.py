"""The station pipeline end to end, with scripted fakes for camera and model and a real SQLite store."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from inspect_app.config import StationConfig, parse_config
from inspect_app.protocols import SourceError
from inspect_app.state import StationState
from inspect_app.station import Station
from inspect_app.testing.fakes import ScriptedDetector, ScriptedSource, part_image, wait_until
from inspect_app.testing.records import rows


def make_config(tmp_path: Path, **over: object) -> StationConfig:
    data: dict = {
        "station": {"name": "test-station"},
        "state_dir": str(tmp_path / "state"),
        "trigger": {"mode": "software", "queue_size": 16},
        "pipeline": {"stall_timeout_s": 0.6},
        "store": {"save_pass_every": 0, "commit_interval_ms": 5},
        "recipes": {
            "strict": {"model": "fake", "min_conf": 0.5},
            "lenient": {"model": "fake", "min_conf": 0.5, "classes": {"short": {"max_count": 5}}},
        },
        "active_recipe": "strict",
    }
    for key, value in over.items():
        data[key] = value
    return parse_config(data)






@pytest.fixture
def detector() -> ScriptedDetector:
    return ScriptedDetector()


def start(cfg: StationConfig, source: ScriptedSource, detector: ScriptedDetector, **kw: object) -> Station:
    st = Station(cfg, source=source, detectors={"fake": detector}, **kw)
    st.start()
    return st


def test_free_run_verdicts_land_in_db_and_counters(tmp_path: Path, detector: ScriptedDetector) -> None:
    cfg = make_config(tmp_path, trigger={"mode": "free_run", "rate_hz": 200})
    script = [part_image(defect=i % 3 == 0) for i in range(9)]
    st = start(cfg, ScriptedSource(script, loop=True), detector, max_parts=9)
    assert st.state == StationState.CONTINUOUS
    assert st.wait_for_results(9, timeout=20)
    st.stop()
    assert st.state == StationState.HALTED
    got = rows(cfg)
    assert [r["verdict"] for r in got] == ["FAIL", "PASS", "PASS"] * 3
    assert st.counters["fail"] == 3 and st.counters["pass"] == 6 and st.counters["total"] == 9
    fail = got[0]
    assert "short" in fail["reasons"] and fail["n_detections"] == 1
    assert fail["image_path"]  # every FAIL image is kept
    assert got[1]["image_path"] is None  # save_pass_every = 0
    assert all(r["t_detect_ms"] is not None and r["t_total_ms"] >= r["t_detect_ms"] for r in got)
    assert {r["station"] for r in got} == {"test-station"}
    dets = rows(cfg, "select * from detections")
    assert len(dets) == 3 and {d["class_name"] for d in dets} == {"short"}


def test_software_trigger_keeps_part_ids_and_order(tmp_path: Path, detector: ScriptedDetector) -> None:
    cfg = make_config(tmp_path)
    st = start(cfg, ScriptedSource([part_image(False), part_image(True)], loop=True), detector)
    assert st.state == StationState.READY
    for pid in ("A-1", "A-2", "A-3", "A-4"):
        st.trigger(pid)
    assert st.wait_for_results(4, timeout=10)
    st.stop()
    got = rows(cfg)
    assert [(r["part_id"], r["verdict"]) for r in got] == [
        ("A-1", "PASS"), ("A-2", "FAIL"), ("A-3", "PASS"), ("A-4", "FAIL")]
    assert {r["trigger_source"] for r in got} == {"software"}


def test_camera_failure_is_error_and_not_inspected_then_recovers(
    tmp_path: Path, detector: ScriptedDetector
) -> None:
    script = [part_image(False), SourceError("READ_FAILED", "cable pulled"), part_image(False)]
    st = start(make_config(tmp_path), ScriptedSource(script), detector)
    st.trigger("ok-1")
    st.trigger("lost-2")
    assert st.wait_for_results(2, timeout=10)
    assert st.state == StationState.ERROR and st.error_code == "CAMERA_ERROR"
    st.trigger("after-3")  # the source reopens and delivers again: Error clears by itself
    assert st.wait_for_results(3, timeout=10)
    assert wait_until(lambda: st.state == StationState.READY)
    st.stop()
    got = {r["part_id"]: r for r in rows(st.config)}
    assert got["ok-1"]["verdict"] == "PASS"
    assert got["lost-2"]["verdict"] == "NOT_INSPECTED" and got["lost-2"]["error_code"] == "CAMERA_ERROR"
    assert got["after-3"]["verdict"] == "PASS"
    events = rows(st.config, "select kind, severity, message from events")
    assert any(e["kind"] == "source" and "cable pulled" in e["message"] for e in events)


def test_camera_absent_at_start_retries_and_triggers_are_not_inspected(
    tmp_path: Path, detector: ScriptedDetector
) -> None:
    src = ScriptedSource([part_image(False)], loop=True, fail_open=2)
    st = start(make_config(tmp_path), src, detector)
    assert wait_until(lambda: st.state == StationState.ERROR, 5)
    st.trigger("early")
    assert st.wait_for_results(1, timeout=5)
    assert wait_until(lambda: st.state == StationState.READY, 10), "camera came back but station stayed Error"
    st.trigger("late")
    assert st.wait_for_results(2, timeout=5)
    st.stop()
    got = {r["part_id"]: r["verdict"] for r in rows(st.config)}
    assert got["early"] == "NOT_INSPECTED" and got["late"] == "PASS"


def test_corrupt_image_in_folder_is_not_inspected_and_station_goes_on(
    tmp_path: Path, detector: ScriptedDetector
) -> None:
    import cv2

    folder = tmp_path / "imgs"
    folder.mkdir()
    cv2.imwrite(str(folder / "a.png"), part_image(False))
    (folder / "b.jpg").write_bytes(b"\xff\xd8\xff\xe0 broken")
    cv2.imwrite(str(folder / "c.png"), part_image(True))
    cfg = make_config(tmp_path, source={"kind": "folder", "path": str(folder)},
                      trigger={"mode": "free_run", "rate_hz": 100})
    st = Station(cfg, detectors={"fake": detector})
    st.start()
    assert st.finished.wait(10)
    assert st.wait_for_results(3, timeout=10)
    st.stop()
    got = rows(cfg)
    assert [r["verdict"] for r in got] == ["PASS", "NOT_INSPECTED", "FAIL"]
    assert got[1]["error_code"] == "IMAGE_CORRUPT" and got[1]["origin"].endswith("b.jpg")


def test_inference_exception_is_not_inspected(tmp_path: Path, detector: ScriptedDetector) -> None:
    st = start(make_config(tmp_path), ScriptedSource([part_image(False)], loop=True), detector)
    detector.fail_next = 1
    st.trigger("boom")
    st.trigger("fine")
    assert st.wait_for_results(2, timeout=10)
    st.stop()
    got = {r["part_id"]: r for r in rows(st.config)}
    assert got["boom"]["verdict"] == "NOT_INSPECTED" and got["boom"]["error_code"] == "DETECTOR_ERROR"
    assert got["fine"]["verdict"] == "PASS"


def test_stuck_model_puts_error_and_no_pass_is_reported(tmp_path: Path, detector: ScriptedDetector) -> None:
    st = start(make_config(tmp_path), ScriptedSource([part_image(False)], loop=True), detector)
    detector.hang()
    st.trigger("stuck")
    assert wait_until(lambda: st.state == StationState.ERROR, 5)
    assert st.error_code == "STAGE_STALLED"
    st.trigger("during-error")
    assert st.wait_for_results(1, timeout=5)
    assert st.last_result is not None and st.last_result.inspection.part_id == "during-error"
    assert st.last_result.inspection.verdict == "NOT_INSPECTED"
    assert st.reset() is False  # the cause is still there
    detector.release()
    assert st.wait_for_results(2, timeout=5)
    assert wait_until(lambda: st.supervisor.problem() is None, 3)
    assert st.reset() is True and st.state == StationState.READY
    st.stop()
    got = {r["part_id"]: r for r in rows(st.config)}
    assert got["during-error"]["verdict"] == "NOT_INSPECTED"
    assert got["during-error"]["error_code"] == "STAGE_STALLED"
    # inspected in the end, but the line was told of the stall while it was in hand: never a late PASS
    assert got["stuck"]["verdict"] == "NOT_INSPECTED" and got["stuck"]["error_code"] == "STAGE_STALLED"


def test_trigger_overrun_is_recorded_not_dropped(tmp_path: Path, detector: ScriptedDetector) -> None:
    cfg = make_config(tmp_path, trigger={"mode": "software", "queue_size": 1},
                      pipeline={"detect_queue": 1, "stall_timeout_s": 30})
    st = start(cfg, ScriptedSource([part_image(False)], loop=True), detector)
    detector.hang()
    for i in range(8):
        st.trigger(f"p{i}")
    assert wait_until(lambda: st.counters["missed_triggers"] > 0, 5)
    detector.release()
    assert st.wait_for_results(8, timeout=10)
    st.stop()
    got = rows(cfg)
    assert sorted(r["part_id"] for r in got) == [f"p{i}" for i in range(8)]
    overruns = [r for r in got if r["error_code"] == "OVERRUN"]
    assert len(overruns) == st.counters["missed_triggers"] >= 1


def test_recipe_switch_applies_to_next_part_and_is_recorded(
    tmp_path: Path, detector: ScriptedDetector
) -> None:
    st = start(make_config(tmp_path), ScriptedSource([part_image(True)], loop=True), detector)
    st.trigger("r1")
    assert st.wait_for_results(1, timeout=5)
    st.set_recipe("lenient", who="tester")
    st.trigger("r2")
    assert st.wait_for_results(2, timeout=5)
    with pytest.raises(KeyError):
        st.set_recipe("nope")
    st.stop()
    got = {r["part_id"]: r for r in rows(st.config)}
    assert (got["r1"]["recipe"], got["r1"]["verdict"]) == ("strict", "FAIL")
    assert (got["r2"]["recipe"], got["r2"]["verdict"]) == ("lenient", "PASS")
    ev = rows(st.config, "select * from events where kind = 'recipe'")
    assert len(ev) == 1 and "strict -> lenient by tester" in ev[0]["message"]


def test_stop_flushes_every_queued_part(tmp_path: Path, detector: ScriptedDetector) -> None:
    cfg = make_config(tmp_path, trigger={"mode": "software", "queue_size": 100})
    st = start(cfg, ScriptedSource([np.full((64, 64, 3), 100, np.uint8)], loop=True), detector)
    for i in range(40):
        st.trigger(f"q{i}")
    st.stop()  # immediately: queued triggers are inspected and committed before stop returns
    got = rows(cfg)
    assert len(got) == 40
    assert [r["part_id"] for r in got] == [f"q{i}" for i in range(40)]
    assert all(r["verdict"] == "PASS" for r in got)


def test_free_run_camera_dropouts_are_skipped_frames_not_fake_parts(
    tmp_path: Path, detector: ScriptedDetector
) -> None:
    cfg = make_config(tmp_path, trigger={"mode": "free_run", "rate_hz": 50})
    script = [part_image(False), part_image(False), SourceError("READ_FAILED", "glitch")]
    st = start(cfg, ScriptedSource(script, loop=True), detector)
    assert wait_until(lambda: st.counters["skipped_frames"] >= 2 and st.counters["total"] >= 4, 15)
    st.stop()
    got = rows(cfg)
    # a free-run tick without a frame saw no part: nothing is recorded for it, it is counted instead
    assert {r["verdict"] for r in got} == {"PASS"}
    assert len(got) == st.counters["total"]
    assert any("glitch" in e["message"] for e in rows(cfg, "select message from events"))


def test_triggers_are_honoured_while_free_running(tmp_path: Path, detector: ScriptedDetector) -> None:
    cfg = make_config(tmp_path, trigger={"mode": "free_run", "rate_hz": 20})
    st = start(cfg, ScriptedSource([part_image(False)], loop=True), detector)
    st.trigger("plc-1", source="external")
    assert wait_until(lambda: any(r["part_id"] == "plc-1" for r in rows(cfg)), 5)
    st.stop()
    got = {r["part_id"]: r["trigger_source"] for r in rows(cfg)}
    assert got["plc-1"] == "external"
    assert "free_run" in got.values()


def test_a_stop_with_stuck_inference_and_a_full_queue_records_every_part(
    tmp_path: Path, detector: ScriptedDetector
) -> None:
    """Inference hangs, the detect queue is full and the acquire stage waits to hand on the next frame when
    the stop gives up on inference: every triggered part gets its row, including the one acquire held while
    the stop emptied the queue (it used to slip into the emptied queue and be lost)."""
    cfg = make_config(tmp_path, trigger={"mode": "software", "queue_size": 8},
                      pipeline={"detect_queue": 1, "stall_timeout_s": 30})  # fmt: skip
    st = start(cfg, ScriptedSource([part_image(False)], loop=True), detector)
    detector.hang()
    for i in range(5):
        st.trigger(f"p{i}")
    # one part in inference, one in the detect queue, one in acquire's hand, the rest waiting for a frame
    assert wait_until(lambda: st._triggers.qsize() == 2 and st._detect_q.qsize() == 1, 30)
    st.stop(timeout=1.0)
    detector.release()
    got = sorted(r["part_id"] for r in rows(cfg))
    assert got == [f"p{i}" for i in range(5)]
