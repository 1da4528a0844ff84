"""Two parts in flight in the detect stage (issue 13): the next part's inference starts while the previous one
is post-processed, and every guarantee of one-at-a-time still holds: each part recorded once, in trigger
order, with the same verdict; a failure is the failing part's NOT_INSPECTED in its place; a stall marks every
part that was in hand; a stop that cannot wait hands the parts in flight over to be recorded."""

from __future__ import annotations

import queue
import threading
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

from inspect_app.config import parse_config
from inspect_app.detector import load_detector
from inspect_app.pipeline import DetectWorker, stop_marker
from inspect_app.station import Station
from inspect_app.testing.detect_stage import BackgroundDetector, DetectHost, acquired
from inspect_app.testing.fakes import ScriptedDetector, ScriptedSource, wait_until
from inspect_app.testing.records import rows


def _run_station(
    tmp_path: Path, model: Path, script: list[np.ndarray], in_flight: int | None, streams: int = 1
) -> list:
    cfg = parse_config({
        "state_dir": str(tmp_path / f"state-{in_flight}-{streams}"),
        "trigger": {"mode": "software", "queue_size": 64},
        "pipeline": {"in_flight": in_flight, "detect_queue": 8},
        "store": {"save_pass_every": 0, "commit_interval_ms": 5},
        "recipes": {"r": {"model": str(model), "min_conf": 0.3}},
        "active_recipe": "r",
    })  # fmt: skip
    det = load_detector(model, "openvino", 2, precision="f32", streams=streams)
    st = Station(cfg, source=ScriptedSource(script), detectors={str(model): det})
    st.start()
    for i in range(len(script)):
        st.trigger(f"p{i:02d}")  # a burst: parts queue up, so the next one is waiting while one finishes
    assert st.wait_for_results(len(script), timeout=60)
    st.stop()
    return [dict(r) for r in rows(cfg)]


def test_two_in_flight_record_every_part_once_in_order_with_the_same_verdicts(
    tmp_path: Path, tiny_release: Path, test_images: Callable[[int, int], list[np.ndarray]]
) -> None:
    script = test_images(24, 51)
    script[7] = script[7].astype(np.float32)  # the station's preprocess refuses it: this part's error only
    one = _run_station(tmp_path, tiny_release, script, in_flight=1)
    two = _run_station(tmp_path, tiny_release, script, in_flight=2)
    assert [r["part_id"] for r in two] == [f"p{i:02d}" for i in range(len(script))]
    assert [r["trigger_id"] for r in two] == sorted(r["trigger_id"] for r in two)
    key = ("part_id", "verdict", "error_code", "n_detections")
    assert [tuple(r[k] for k in key) for r in two] == [tuple(r[k] for k in key) for r in one]
    assert two[7]["verdict"] == "NOT_INSPECTED" and two[7]["error_code"] == "DETECTOR_ERROR"
    assert {r["verdict"] for r in two} >= {"PASS", "FAIL"}  # the burst really exercised both


def test_two_streams_record_every_part_once_in_order_with_the_same_verdicts(
    tmp_path: Path, tiny_release: Path, test_images: Callable[[int, int], list[np.ndarray]]
) -> None:
    """A free-run line's default on 2 cores (``threads.detector_settings``): two OpenVINO streams, every
    request in flight (4), finishing in any order; the records still follow the parts."""
    script = test_images(24, 52)
    script[5] = script[5].astype(np.float32)
    one = _run_station(tmp_path, tiny_release, script, in_flight=1)
    many = _run_station(tmp_path, tiny_release, script, in_flight=None, streams=2)
    assert [r["part_id"] for r in many] == [f"p{i:02d}" for i in range(len(script))]
    key = ("part_id", "verdict", "error_code", "n_detections")
    assert [tuple(r[k] for k in key) for r in many] == [tuple(r[k] for k in key) for r in one]
    assert many[5]["verdict"] == "NOT_INSPECTED" and many[5]["error_code"] == "DETECTOR_ERROR"
    assert {r["verdict"] for r in many} >= {"PASS", "FAIL"}


def _worker_with_two_waiting() -> tuple[DetectWorker, DetectHost, ScriptedDetector, threading.Thread]:
    scripted = ScriptedDetector()
    host = DetectHost(BackgroundDetector(scripted))
    inbox: queue.Queue = queue.Queue()
    for i, part in enumerate(("a", "b")):
        inbox.put(acquired(part, i + 1))
    inbox.put(stop_marker())
    worker = DetectWorker(host, inbox, in_flight=2)  # type: ignore[arg-type]
    scripted.hang()
    thread = threading.Thread(target=worker.run, daemon=True)
    thread.start()
    assert wait_until(lambda: worker.monitor.stuck_for(time.monotonic())[1] == "a", 5)
    return worker, host, scripted, thread


def test_a_stall_marks_every_part_in_flight() -> None:
    worker, host, scripted, thread = _worker_with_two_waiting()
    assert worker.monitor.flag_stalled() == "a"  # what the supervisor does after stall_timeout_s
    scripted.release()
    thread.join(5)
    assert [(i.part_id, i.decision.error_code) for i in host.submitted] == [
        ("a", "STAGE_STALLED"),
        ("b", "STAGE_STALLED"),  # begun while a was stuck: the line was told of the stall with it in hand
    ]


def test_a_stop_that_cannot_wait_takes_over_the_parts_in_flight() -> None:
    worker, host, scripted, thread = _worker_with_two_waiting()
    handed = worker.abandon()
    assert [a.request.part_id for a in handed] == ["a", "b"]
    scripted.release()
    thread.join(5)
    assert host.submitted == []  # recorded once, by whoever stopped the station, never twice
