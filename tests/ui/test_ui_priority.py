"""The window runs below the station: its Qt thread is lowered, the station's threads are not, also after
a stop and a new start from the window (threads inherit their creator's priority). In a fresh process,
since a lowered thread stays lowered: this one's Qt thread already is, by the other UI tests."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.skipif(sys.platform != "linux", reason="per-thread nice is Linux's")

SCRIPT = r"""
import json, sys, threading
from PyQt6.QtWidgets import QApplication
from inspect_app.station import Station
from inspect_app.testing.fakes import ScriptedDetector, ScriptedSource, wait_until
from tests_ui_conftest import board, ui_config
from ui.controller import StationController
from ui.feed import StationFeed
from ui.i18n import Translations
from ui.main_window import MainWindow
from ui.priority import thread_nice

base = thread_nice()
app = QApplication([])
cfg = ui_config(__import__("pathlib").Path(sys.argv[1]), ui={"nice": 19})
feed = StationFeed()
source = ScriptedSource([board(True), board(False)], loop=True)
controller = StationController(lambda: Station(cfg, source=source, detectors={"fake": ScriptedDetector()}),
                               feed, control_socket=False)
window = MainWindow(cfg, controller, feed, Translations(app))
out = {"base": base, "qt": thread_nice(), "reader": thread_nice(window.reader._thread.native_id), "runs": []}

def pump(pred):
    assert wait_until(lambda: (app.processEvents(), pred())[1], timeout=20)

for _ in range(2):
    window.start_station(); pump(lambda: window.phase == "running")
    seen = feed.results_seen; pump(lambda: feed.results_seen >= seen + 3)
    out["runs"].append({t.name: thread_nice(t.native_id) for t in threading.enumerate()
                        if t.name.startswith(("station-", "store-writer"))})
    window.stop_station(); pump(lambda: window.phase == "stopped")
print(json.dumps(out))
window.close()
"""


def test_window_thread_is_lowered_and_station_threads_are_not(tmp_path: Path) -> None:
    root = Path(__file__).resolve().parents[2]
    (tmp_path / "tests_ui_conftest.py").write_text((Path(__file__).parent / "conftest.py").read_text())
    env = {**os.environ, "QT_QPA_PLATFORM": "offscreen",
           "PYTHONPATH": os.pathsep.join([str(tmp_path), str(root), os.environ.get("PYTHONPATH", "")])}
    done = subprocess.run([sys.executable, "-c", SCRIPT, str(tmp_path / "st")], env=env, cwd=tmp_path,
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-3000:]
    out = json.loads(done.stdout.strip().splitlines()[-1])
    base = out["base"]
    if base >= 19:
        pytest.skip("this test process already runs at the lowest priority: nothing to tell apart")
    assert out["qt"] == min(19, base + 19) and out["reader"] == out["qt"]  # [ui] nice = 19 here
    for run in out["runs"]:  # both starts: the second comes from the window after a stop
        assert run and all(n == base for n in run.values()), run
