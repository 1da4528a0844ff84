"""The thread plan (issue 13): inference threads, parts in flight and throughput streams from the cores the
station may use; and the batch API (``detect_many``) of every backend, the one replays and evaluations use."""

from __future__ import annotations

import queue
import subprocess
import sys
import threading
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest

from inspect_app.config import ConfigError, parse_config
from inspect_app.detector import load_detector
from inspect_app.detector.threads import (
    DetectorSettings,
    ThreadPlan,
    available_cores,
    detector_settings,
    plan,
)
from inspect_app.pipeline import DetectWorker, stop_marker
from inspect_app.testing.detect_stage import BackgroundDetector, DetectHost, acquired


def test_plan_by_core_count() -> None:
    got = {
        n: (p.threads, p.in_flight, p.throughput_streams, p.throughput_threads)
        for n in (1, 2, 3, 4, 8, 16, 64)
        for p in [plan(n)]
    }
    assert got == {
        1: (1, 1, 1, 1),  # nothing to overlap with
        2: (2, 2, 2, 2),  # throughput: a stream of 1 thread per core
        3: (3, 2, 2, 2),  # from 3 cores on, throughput leaves a core to the Python side
        4: (4, 2, 3, 3),
        8: (8, 2, 7, 7),
        16: (15, 2, 15, 15),  # from 9 cores on one stays free of the model
        64: (16, 2, 63, 63),  # past 16 threads nothing was measured: more cores only go to streams
    }
    assert plan() == plan(available_cores())
    assert "2 inference threads" in plan(2).line()


def test_plan_follows_the_cpus_the_process_may_use() -> None:
    code = (
        "import os; os.sched_setaffinity(0, sorted(os.sched_getaffinity(0))[:1]);"
        "from inspect_app.detector.threads import plan; print(plan().threads, plan().in_flight)"
    )
    out = subprocess.run([sys.executable, "-c", code], check=True, capture_output=True, text=True)
    assert out.stdout.split() == ["1", "1"]  # taskset -c 0 on any machine: one core


def test_unset_threads_follow_the_plan(tiny_release: Path) -> None:
    cfg = parse_config({"recipes": {"r": {"model": str(tiny_release)}}, "active_recipe": "r"})
    assert cfg.detector.threads is None and cfg.pipeline.in_flight is None and cfg.detector.streams is None
    for backend in ("openvino", "onnxruntime"):
        det = load_detector(tiny_release, backend, cfg.detector.threads)
        assert det.threads == plan().threads
        det.close()
    ov = load_detector(tiny_release, "openvino", None)
    assert ov.get_property("INFERENCE_NUM_THREADS") == plan().threads  # type: ignore[attr-defined]
    ov.close()


def test_streams_need_openvino() -> None:
    base = {"recipes": {"r": {"model": "m"}}, "active_recipe": "r"}
    with pytest.raises(ConfigError, match=r"detector\.streams: .*streams > 1 needs backend"):
        parse_config({**base, "detector": {"backend": "onnxruntime", "streams": 2}})
    assert parse_config({**base, "detector": {"streams": 2}}).detector.streams == 2


def test_free_run_on_openvino_is_a_throughput_line() -> None:
    def run(mode: str, backend: str = "openvino", threads: int | None = None, streams: int | None = None,
            cores: int = 2) -> tuple[int, int]:  # fmt: skip
        s = detector_settings(mode, backend, threads, streams, cores)
        return s.threads, s.streams

    assert run("free_run") == (2, 2)  # 2 cores: two streams of one thread
    assert run("software") == run("external") == (2, 1)  # a part waits for its verdict: latency
    assert run("free_run", "onnxruntime") == run("free_run", "ultralytics") == (2, 1)
    assert run("free_run", cores=1) == (1, 1)
    assert run("free_run", cores=4) == (3, 3)  # a core left to the station's Python threads
    assert run("free_run", cores=16) == (15, 15)
    assert run("software", cores=16) == (15, 1)
    assert run("free_run", threads=1) == (1, 1)  # set threads cap the streams
    assert run("free_run", threads=3, cores=16) == (3, 3)
    assert run("free_run", streams=1) == (2, 1)  # set, they win
    assert run("software", streams=2) == (2, 2)
    assert run("software", streams=2, cores=8) == (7, 2)  # set streams, threads unset: throughput threads
    assert isinstance(detector_settings("free_run", "openvino", None, None), DetectorSettings)


@pytest.mark.parametrize("mode", ["free_run", "software"])
def test_the_station_loads_its_detector_by_the_line(tiny_release: Path, tmp_path: Path, mode: str) -> None:
    from inspect_app.builders import build_detectors

    cfg = parse_config({
        "state_dir": str(tmp_path), "trigger": {"mode": mode}, "detector": {"precision": "f32"},
        "recipes": {"r": {"model": str(tiny_release)}}, "active_recipe": "r",
    })  # fmt: skip
    (det,) = build_detectors(cfg).values()
    try:
        want = plan().throughput_streams if mode == "free_run" else 1
        assert det.streams == want  # type: ignore[attr-defined]
        assert int(det.get_property("NUM_STREAMS")) == want  # type: ignore[attr-defined]
    finally:
        det.close()


def test_two_requests_per_stream(tiny_release: Path) -> None:
    one = load_detector(tiny_release, "openvino", 2, precision="f32")
    two = load_detector(tiny_release, "openvino", 2, precision="f32", streams=2)
    assert one.slots == 2 and two.slots == 4  # type: ignore[attr-defined]
    assert int(two.get_property("NUM_STREAMS")) == 2  # type: ignore[attr-defined]
    # more streams than threads: OpenVINO makes as many as threads; the detector says and sizes so
    four = load_detector(tiny_release, "openvino", 2, precision="f32", streams=4)
    assert four.streams == int(four.get_property("NUM_STREAMS")) == 2  # type: ignore[attr-defined]
    assert four.slots == 4  # type: ignore[attr-defined]
    for det in (one, two, four):
        det.close()


@pytest.mark.parametrize(("in_flight", "slots"), [(None, 4), (None, 2), (2, 4), (1, 4)])
def test_planned_in_flight_fills_every_request(in_flight: int | None, slots: int) -> None:
    det = BackgroundDetector(slots=slots)
    host = DetectHost(det)
    inbox: queue.Queue = queue.Queue()
    for i in range(8):
        inbox.put(acquired(f"p{i}", i + 1))
    inbox.put(stop_marker())
    worker = DetectWorker(host, inbox, in_flight=in_flight)  # type: ignore[arg-type]
    thread = threading.Thread(target=worker.run, daemon=True)
    thread.start()
    thread.join(10)
    assert [i.part_id for i in host.submitted] == [f"p{i}" for i in range(8)]
    if in_flight is None:
        want = slots if plan().in_flight > 1 else 0  # a single core begins nothing ahead
    else:
        want = 0 if in_flight == 1 else min(in_flight, slots)
    assert det.most == want


def _same(got: list, expected: list) -> None:
    assert [[d.class_id for d in ds] for ds in got] == [[d.class_id for d in ds] for ds in expected]
    for ds, es in zip(got, expected, strict=True):
        for d, e in zip(ds, es, strict=True):
            assert np.allclose(d.box, e.box, atol=0.05) and abs(d.confidence - e.confidence) < 1e-3


@pytest.mark.parametrize(
    ("backend", "streams"), [("onnxruntime", 1), ("openvino", 1), ("openvino", 2), ("ultralytics", 1)]
)
def test_detect_many_is_detect_in_order(
    tiny_release: Path,
    test_images: Callable[[int, int], list[np.ndarray]],
    backend: str,
    streams: int,
) -> None:
    imgs = test_images(7, 61)
    det = load_detector(tiny_release, backend, 2, streams=streams)
    expected = [det.detect(img, 0.2, 0.7) for img in imgs]
    assert sum(map(len, expected)) > 0  # the test compares something
    _same(list(det.detect_many(iter(imgs), 0.2, 0.7)), expected)
    # a caller that stops early gives the requests back: the detector still runs every part afterwards
    many = det.detect_many(imgs, 0.2, 0.7)
    next(many)
    many.close()
    _same(list(det.detect_many(imgs, 0.2, 0.7)), expected)
    det.close()


def test_detect_many_multi_label_is_the_validators_decode(
    tiny_release: Path, test_images: Callable[[int, int], list[np.ndarray]]
) -> None:
    imgs = test_images(3, 62)
    det = load_detector(tiny_release, "onnxruntime", 2)
    single = list(det.detect_many(imgs, 0.01, 0.7))
    multi = list(det.detect_many(imgs, 0.01, 0.7, multi_label=True))
    assert sum(map(len, multi)) >= sum(map(len, single)) > 0
    ultra = load_detector(tiny_release, "ultralytics", 2)
    with pytest.raises(ValueError, match="one label per box"):
        list(ultra.detect_many(imgs, 0.01, 0.7, multi_label=True))


def test_thread_plan_is_a_frozen_value() -> None:
    p = plan(4)
    assert isinstance(p, ThreadPlan) and p.as_dict() == {
        "cores": 4, "threads": 4, "in_flight": 2, "throughput_streams": 3, "throughput_threads": 3,
    }  # fmt: skip
    with pytest.raises(AttributeError):
        p.threads = 1  # type: ignore[misc]
