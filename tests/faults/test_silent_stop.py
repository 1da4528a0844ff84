"""Case 1: no silent stop. An exception nobody expected, a dead worker thread or a sink that never returns
puts the station into Error, stops the heartbeat, and the part in hand still gets its row."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import pytest

from inspect_app.config import ConfigError, parse_config
from inspect_app.state import StationState
from inspect_app.testing.fakes import ScriptedDetector, ScriptedSource, part_image, wait_until
from inspect_app.testing.records import event_messages, rows


class Fatal(BaseException):
    """Not an Exception: escapes every ``except Exception`` and ends the thread it is raised in."""


def _heartbeat_stopped(st: object) -> bool:
    before = st.heartbeat  # type: ignore[attr-defined]
    time.sleep(1.0)  # four supervisor periods
    return st.heartbeat == before  # type: ignore[attr-defined]


def test_unexpected_exception_in_the_source_is_recorded_and_raises_error(
    tmp_path: Path, detector: ScriptedDetector, started: object, make_config: object
) -> None:
    cfg = make_config(tmp_path)  # type: ignore[operator]
    src = ScriptedSource([part_image(False), RuntimeError("driver bug"), part_image(False)], loop=True)
    st = started(cfg, src, detector)  # type: ignore[operator]
    st.trigger("p1")
    assert st.wait_for_results(1, 10)
    st.trigger("p2")
    assert wait_until(lambda: st.state == StationState.ERROR, 10)
    assert st.error_code == "INTERNAL_ERROR"
    assert _heartbeat_stopped(st)
    st.trigger("p3")  # while in Error: recorded at once, never inspected
    assert st.wait_for_results(3, 10)
    assert st.reset("operator") is True  # a one-off fault: the operator acknowledges it
    st.trigger("p4")
    assert st.wait_for_results(4, 10)
    got = {r["part_id"]: r for r in rows(cfg)}
    assert got["p1"]["verdict"] == "PASS" and got["p4"]["verdict"] == "PASS"
    assert got["p2"]["verdict"] == "NOT_INSPECTED" and got["p2"]["error_code"] == "INTERNAL_ERROR"
    assert "driver bug" in got["p2"]["reasons"]
    assert got["p3"]["verdict"] == "NOT_INSPECTED"
    assert any("acquire failed on part p2" in m for m in event_messages(cfg))


def test_a_dead_worker_thread_is_an_error_and_no_trigger_is_left_without_a_row(
    tmp_path: Path, detector: ScriptedDetector, started: object, make_config: object
) -> None:
    cfg = make_config(tmp_path)  # type: ignore[operator]
    src = ScriptedSource([part_image(False), Fatal("thread killer"), part_image(False)], loop=True)
    st = started(cfg, src, detector)  # type: ignore[operator]
    st.trigger("ok")
    assert st.wait_for_results(1, 10)
    st.trigger("killer")
    assert wait_until(lambda: st.state == StationState.ERROR, 10)
    assert wait_until(lambda: st.error_code == "WORKER_DIED", 5)
    assert _heartbeat_stopped(st)
    for i in range(3):  # nobody takes triggers any more: each is recorded at once
        st.trigger(f"after-{i}")
    assert st.wait_for_results(5, 10)
    assert st.reset("operator") is False  # nothing would do the work: only a restart helps
    got = {r["part_id"]: r for r in rows(cfg)}
    assert got["killer"]["error_code"] == "INTERNAL_ERROR"
    assert [got[f"after-{i}"]["error_code"] for i in range(3)] == ["WORKER_DIED"] * 3
    health = st.health()
    assert not next(w for w in health.workers if w.name == "acquire").alive and not health.ok


def test_a_result_sink_that_hangs_is_a_stall_of_the_signal_stage(
    tmp_path: Path, detector: ScriptedDetector, started: object, make_config: object
) -> None:
    cfg = make_config(tmp_path)  # type: ignore[operator]
    gate = threading.Event()
    st = started(cfg, ScriptedSource([part_image(False)], loop=True), detector)  # type: ignore[operator]
    st.add_result_listener(lambda _r: gate.wait(30))  # a PLC sink stuck in a network call
    st.trigger("p1")
    assert wait_until(lambda: st.state == StationState.ERROR, 10)
    assert st.error_code == "STAGE_STALLED" and "signal" in (st.error_text or "")
    gate.set()
    assert wait_until(lambda: st.supervisor.problem() is None, 5)
    assert st.reset("operator") is True


def test_a_hung_detector_is_a_stall_and_its_part_is_never_passed_late(
    tmp_path: Path, detector: ScriptedDetector, started: object, make_config: object
) -> None:
    cfg = make_config(tmp_path)  # type: ignore[operator]
    st = started(cfg, ScriptedSource([part_image(False)], loop=True), detector)  # type: ignore[operator]
    detector.hang()
    st.trigger("stuck")
    assert wait_until(lambda: st.state == StationState.ERROR, 10)
    assert st.error_code == "STAGE_STALLED"
    st.trigger("meanwhile")
    assert st.wait_for_results(1, 10)
    detector.release()
    assert st.wait_for_results(2, 10)
    got = {r["part_id"]: r for r in rows(cfg)}
    assert got["stuck"]["verdict"] == "NOT_INSPECTED" and got["stuck"]["error_code"] == "STAGE_STALLED"
    assert got["meanwhile"]["verdict"] == "NOT_INSPECTED"


@pytest.mark.parametrize(
    ("key", "value"),
    [
        ("open_timeout_s", float("inf")),
        ("read_timeout_s", float("nan")),
        ("reconnect_max_s", 1e9),
    ],
)
def test_every_timeout_is_finite_and_bounded(key: str, value: float) -> None:
    with pytest.raises(ConfigError, match=rf"source\.{key}"):
        parse_config(
            {"source": {"kind": "opencv", "uri": "rtsp://cam", key: value},
             "recipes": {"r": {"model": "m"}}, "active_recipe": "r"}
        )  # fmt: skip
    with pytest.raises(ConfigError, match=r"pipeline\.stall_timeout_s"):
        parse_config({"pipeline": {"stall_timeout_s": float("inf")}, "recipes": {"r": {"model": "m"}},
                      "active_recipe": "r"})  # fmt: skip
