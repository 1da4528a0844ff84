"""The operator window, driven for real: offscreen Qt, a real Station (scripted camera and model), a real
SQLite file. Nothing is mocked; the fakes are the project's own (inspect_app.testing.fakes)."""

from __future__ import annotations

import os
import sqlite3
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

from ui.qt_env import clean_qt_env

clean_qt_env()  # before pytest-qt makes the QApplication

from inspect_app.config import StationConfig, parse_config  # noqa: E402
from inspect_app.passwords import hash_password  # noqa: E402
from inspect_app.station import Station  # noqa: E402
from inspect_app.testing.fakes import DEFECT_MARK, ScriptedDetector, ScriptedSource  # noqa: E402

ENGINEER_PASSWORD = "line-1-engineer"
PASSWORD_HASH = hash_password(ENGINEER_PASSWORD)


def board(defect: bool, shape: tuple[int, int] = (240, 320)) -> np.ndarray:
    """A grey part with a few pads; the scripted detector sees a defect where the top-left pixel is marked."""
    img = np.full((*shape, 3), 90, np.uint8)
    img[40:200:40, 40:300:60] = (30, 160, 200)
    if defect:
        img[0, 0] = DEFECT_MARK
    return img


def ui_config(tmp_path: Path, **over: Any) -> StationConfig:
    data: dict[str, Any] = {
        "station": {"name": "ui-test"},
        "state_dir": str(tmp_path / "state"),
        "trigger": {"mode": "free_run", "rate_hz": 50},
        "pipeline": {"stall_timeout_s": 5},
        "store": {"save_pass_every": 0, "commit_interval_ms": 5},
        # nice 0: a lowered thread stays lowered, and this one runs every other test (test_ui_priority)
        "ui": {"engineer_password_hash": PASSWORD_HASH, "gallery_size": 6, "nice": 0},
        "recipes": {
            "strict": {"model": "fake", "min_conf": 0.5, "roi": {"kind": "rect", "xyxy": [5, 5, 310, 230]}},
            "lenient": {"model": "fake", "min_conf": 0.5, "classes": {"short": {"max_count": 5}}},
        },
        "active_recipe": "strict",
    }
    data.update(over)
    return parse_config(data)


def db_rows(cfg: StationConfig, sql: str, params: tuple = ()) -> list[sqlite3.Row]:
    conn = sqlite3.connect(f"file:{Path(cfg.state_dir) / 'results.db'}?mode=ro", uri=True)
    conn.row_factory = sqlite3.Row
    try:
        return conn.execute(sql, params).fetchall()
    finally:
        conn.close()


class Harness:
    """A MainWindow on a station built from fakes, plus what a test needs to look at."""

    def __init__(self, qtbot: Any, cfg: StationConfig, script: list[np.ndarray] | None = None,
                 max_parts: int | None = None, links: Callable | None = None,
                 detectors: dict | None = None) -> None:
        from PyQt6.QtWidgets import QApplication

        from ui.controller import StationController
        from ui.feed import StationFeed
        from ui.i18n import Translations
        from ui.main_window import MainWindow

        self.qtbot, self.cfg = qtbot, cfg
        self.detector = ScriptedDetector()
        self.source = ScriptedSource(script or [board(True), board(False), board(False)], loop=True)
        dets = detectors or {"fake": self.detector}
        self.feed = StationFeed()
        self.controller = StationController(
            lambda: Station(cfg, source=self.source, detectors=dets, max_parts=max_parts), self.feed,
            links=links, control_socket=False)
        self.translations = Translations(QApplication.instance())
        self.window = MainWindow(cfg, self.controller, self.feed, self.translations)
        self.window.show()  # not qtbot.addWidget: its teardown deletes the window before the station stops

    @property
    def station(self) -> Station:
        assert self.controller.station is not None
        return self.controller.station

    def start(self) -> None:
        self.window.start_station()
        self.qtbot.waitUntil(lambda: self.window.phase == "running", timeout=15_000)

    def wait_results(self, n: int) -> None:
        self.qtbot.waitUntil(lambda: self.feed.results_seen >= n, timeout=20_000)

    def stop(self) -> None:
        self.window.stop_station()
        self.qtbot.waitUntil(lambda: self.window.phase == "stopped", timeout=30_000)

    def close(self) -> None:
        self.translations.set_language("en")
        self.window.close()
        self.qtbot.waitUntil(lambda: not self.window.isVisible(), timeout=30_000)


@pytest.fixture
def harness(qtbot: Any, tmp_path: Path) -> Iterator[Callable[..., Harness]]:
    made: list[Harness] = []

    def make(cfg: StationConfig | None = None, **kw: Any) -> Harness:
        h = Harness(qtbot, cfg or ui_config(tmp_path), **kw)
        made.append(h)
        return h

    yield make
    for h in made:  # a failed test must not leave a station thread writing into the next test's tmp dir
        if h.window.isVisible():
            h.close()
        h.controller.wait(30)
        h.window.deleteLater()


@pytest.fixture
def make_config(tmp_path: Path) -> Callable[..., StationConfig]:
    """ui_config bound to this test's tmp dir: ``make_config(trigger={...})``."""
    return lambda **over: ui_config(tmp_path, **over)


@pytest.fixture
def rows() -> Callable[..., list[sqlite3.Row]]:
    """``rows(cfg, sql)``: read the station's DB the way any other reader would (read-only)."""
    return db_rows


@pytest.fixture
def part() -> Callable[..., np.ndarray]:
    return board


@pytest.fixture
def engineer_password() -> str:
    return ENGINEER_PASSWORD
