"""Case 6: one owner per state dir. A second station on the same state dir is refused at once, names the
PID that holds it and touches nothing of the first: its control socket keeps answering, before and after."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from inspect_app.control import send
from inspect_app.state_dir_lock import StateDirLock, holder_pid
from inspect_app.station import StartupError, Station
from inspect_app.testing.fakes import ScriptedDetector, ScriptedSource, part_image, wait_until

REPO = Path(__file__).resolve().parents[2]
MODEL = REPO / "models" / "synth-pcb" / "0.2.0"


def _config(tmp_path: Path) -> Path:
    cfg = tmp_path / "station.toml"
    cfg.write_text(
        f"""
state_dir = "state"
active_recipe = "r"
[source]
kind = "synthetic"
width = 320
height = 320
rate_hz = 5
[trigger]
mode = "free_run"
rate_hz = 5
[detector]
backend = "onnxruntime"
threads = 1
[recipes.r]
model = "{MODEL}"
"""
    )
    return cfg


def _cli(*args: str, **kw: Any) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "inspect_app.cli", *args], text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, **kw)  # fmt: skip


@pytest.mark.timeout(180)
def test_second_station_on_a_state_dir_is_refused_and_the_first_stays_reachable(tmp_path: Path) -> None:
    cfg = _config(tmp_path)
    state = tmp_path / "state"
    first = _cli("run", "--config", str(cfg), "--headless")
    try:
        assert wait_until(lambda: send(state, {"cmd": "status"}).get("ok", False), 90), "first never came up"
        assert holder_pid(state) == first.pid
        second = _cli("run", "--config", str(cfg), "--headless")
        out, _ = second.communicate(timeout=60)
        assert second.returncode == 2, out
        assert f"in use by PID {first.pid}" in out
        # the first one's socket, DB and lock are untouched: it still answers, and counts on
        reply = send(state, {"cmd": "status"})
        assert reply["ok"] and reply["health"]["station"] == "station-1"
        assert holder_pid(state) == first.pid
        # the demo command pointed at that state dir is refused the same way
        third = _cli("demo", "--headless", "--state-dir", str(state))
        out3, _ = third.communicate(timeout=60)
        assert third.returncode == 2 and f"PID {first.pid}" in out3, out3
        assert send(state, {"cmd": "status"})["ok"]
    finally:
        first.send_signal(signal.SIGTERM)
        out1, _ = first.communicate(timeout=60)
    assert first.returncode == 0, out1[-2000:]
    assert holder_pid(state) is None  # released at exit
    assert not (state / "station.sock").exists()


def test_two_stations_in_one_process_cannot_share_a_state_dir(tmp_path: Path, make_config: Any) -> None:
    cfg = make_config(tmp_path)
    a = Station(
        cfg, source=ScriptedSource([part_image(False)], loop=True), detectors={"fake": ScriptedDetector()}
    )
    b = Station(
        cfg, source=ScriptedSource([part_image(False)], loop=True), detectors={"fake": ScriptedDetector()}
    )
    a.start()
    try:
        with pytest.raises(StartupError, match=f"PID {os.getpid()}"):
            b.start()
        a.trigger("still-mine")
        assert a.wait_for_results(1, 10)
    finally:
        a.stop()
    b2 = Station(
        cfg, source=ScriptedSource([part_image(False)], loop=True), detectors={"fake": ScriptedDetector()}
    )
    b2.start()  # free again once the first stopped
    b2.stop()


def test_a_killed_owner_leaves_no_lock_behind(tmp_path: Path) -> None:
    code = "import sys,time; from inspect_app.state_dir_lock import StateDirLock; " \
           f"StateDirLock.acquire(r'{tmp_path}'); print('held', flush=True); time.sleep(60)"  # fmt: skip
    proc = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True)
    assert proc.stdout is not None and proc.stdout.readline().strip() == "held"
    assert holder_pid(tmp_path) == proc.pid
    proc.kill()
    proc.wait(10)
    deadline = time.monotonic() + 5
    while holder_pid(tmp_path) is not None and time.monotonic() < deadline:
        time.sleep(0.05)
    StateDirLock.acquire(tmp_path).release()
