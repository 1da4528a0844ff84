"""The operator window: layout, the display timer, and the station's lifecycle as the window sees it.

Threads: the station's (acquire, detect, store writer, signal) never touch a widget; they leave results
and events in the ``StationFeed``. Two timers on the Qt thread do everything else: the display timer
(``display_fps``, at most 30/s) shows the newest result and the counters, and the refresh timer (1/s) asks
the DbReader thread for the table, the gallery and the health data. Start and stop run in the
controller's worker thread. So the Qt thread never waits on inference, SQLite, the disk or OPC UA.

User actions (triggers, recipes, reviews, engineer mode) are in ``window_actions.py``.
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from PyQt6.QtCore import Qt, QTimer
from PyQt6.QtGui import QCloseEvent, QKeySequence, QResizeEvent, QShortcut
from PyQt6.QtWidgets import (
    QComboBox,
    QHBoxLayout,
    QLabel,
    QMainWindow,
    QPushButton,
    QSizePolicy,
    QSplitter,
    QTabWidget,
    QToolBar,
    QVBoxLayout,
    QWidget,
)

from inspect_app.config import PolygonROI, RectROI, StationConfig
from inspect_app.demo import models_root
from inspect_app.station import Station
from inspect_app.types import Severity, StatusEvent, Verdict
from ui.charts import CycleTrendChart, DefectBarChart
from ui.class_names import shown_list, shown_names
from ui.controller import StationController
from ui.counters import CountersPanel
from ui.db_reader import DbReader
from ui.feed import StationFeed
from ui.i18n import LANGUAGES, Retranslatable, Translations, translate
from ui.live_view import LiveView
from ui.priority import lower_this_thread
from ui.reason_text import error_title
from ui.reject_gallery import RejectGallery
from ui.results_table import RecentResults
from ui.roles import RoleManager
from ui.screen_fit import banner_height, counter_px, initial_size, thumb_px
from ui.status_lights import StatusInputs, StatusLights, assess, model_detail
from ui.verdict_banner import VerdictBanner
from ui.window_actions import WindowActions

log = logging.getLogger(__name__)

RECENT_ROWS = 100
CHART_PERIOD_S = 0.5  # trends need no 30 fps: the charts repaint at most twice a second
LIGHTS_PERIOD_S = 0.25  # lights and buttons are re-assessed 4 times a second, and at once on an event
# Every Qt call from Python holds the GIL the pipeline's threads need: numbers nobody can read 30 times a
# second are updated 10 times (the banner and the live image stay at the display rate, matching each other)
COUNTERS_PERIOD_S = 0.1
REFRESH_MS = 1000


class MainWindow(WindowActions, Retranslatable, QMainWindow):
    def __init__(self, config: StationConfig, controller: StationController, feed: StationFeed,
                 translations: Translations, *, max_parts: int | None = None,
                 releases_root: Path | None = None) -> None:
        super().__init__()
        self.config, self.controller, self.feed, self.translations = config, controller, feed, translations
        lower_this_thread(config.ui.nice)  # see ui/priority.py; the DB reader made below inherits it
        self.max_parts = max_parts
        self.releases_root = releases_root or models_root()
        self.phase = "stopped"  # starting, running, stopping, stopped, failed
        self.start_error: str | None = None
        self.camera_error: str | None = None
        self.store_error: str | None = None
        self.health: dict[str, Any] = {}
        self.closing = False
        self.exit_code = 0
        self._stats_version = -1
        self._charts_at = 0.0
        self._lights_at = 0.0
        self._counters_at = 0.0
        self._finished_handled = False
        self.last_station: Station | None = None
        self.roles = RoleManager(config.ui.engineer_password_hash, self._audit)
        self.roles.listeners.append(lambda _role: self.retranslate())
        self.reader = DbReader(Path(config.state_dir) / config.store.db, Path(config.state_dir))
        self.reader.ready.connect(self._on_read)
        self._build()
        controller.started.connect(self._on_started)
        controller.start_failed.connect(self._on_start_failed)
        controller.stopped.connect(self._on_stopped)
        self.display_timer = QTimer(self)
        # a coarse timer (Qt's default) may fire 5 % early: 33 ms gave 31 repaints/s against a 30 fps cap
        self.display_timer.setTimerType(Qt.TimerType.PreciseTimer)
        self.display_timer.setInterval(max(34, math.ceil(1000 / config.ui.display_fps)))
        self.display_timer.timeout.connect(self.tick)
        self.display_timer.start()
        self.refresh_timer = QTimer(self)
        self.refresh_timer.setInterval(REFRESH_MS)
        self.refresh_timer.timeout.connect(self.refresh)
        self.refresh_timer.start()
        self.retranslate()

    # ---------------------------------------------------------------- layout
    def _build(self) -> None:
        available = self.screen().availableGeometry().size()
        bar = QToolBar()
        bar.setMovable(False)
        bar.setStyleSheet("QToolBar { spacing: 6px; padding: 4px; } QPushButton { font-size: 16px; "
                          "padding: 6px 14px; } QLabel, QComboBox { font-size: 16px; }")
        self.addToolBar(bar)
        self.start_button, self.stop_button = QPushButton(), QPushButton()
        self.trigger_button, self.ack_button = QPushButton(), QPushButton()
        self.recipe_label, self.recipe_box = QLabel(), QComboBox()
        self._recipe_items: list[str] = []  # what recipe_box lists
        self.recipe_box.setMinimumWidth(160)
        self.role_label = QLabel()
        self.engineer_button, self.recipes_button = QPushButton(), QPushButton()
        self.audit_button = QPushButton()
        self.language_box = QComboBox()
        for code, name in LANGUAGES.items():
            self.language_box.addItem(name, code)
        self.language_box.setCurrentIndex(list(LANGUAGES).index(self.translations.language))
        self.start_button.clicked.connect(self.start_station)
        self.stop_button.clicked.connect(self.stop_station)
        self.trigger_button.clicked.connect(self.trigger_once)
        self.ack_button.clicked.connect(self.acknowledge_error)
        self.recipe_box.activated.connect(lambda _i: self.select_recipe(self.recipe_box.currentText()))
        self.engineer_button.clicked.connect(self.toggle_engineer)
        self.recipes_button.clicked.connect(self.open_recipe_editor)
        self.audit_button.clicked.connect(self.open_audit_view)
        self.language_box.activated.connect(lambda i: self.set_language(self.language_box.itemData(i)))
        for w in (self.start_button, self.stop_button, self.trigger_button, self.ack_button,
                  self.recipe_label, self.recipe_box):
            bar.addWidget(w)
        spacer = QWidget()
        spacer.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Preferred)
        bar.addWidget(spacer)
        for w in (self.role_label, self.engineer_button, self.recipes_button, self.audit_button,
                  self.language_box):
            bar.addWidget(w)
        QShortcut(QKeySequence("F5"), self, activated=self.trigger_once)

        self.banner = VerdictBanner()
        self.live = LiveView()
        self.counters = CountersPanel()
        self.counters.reset_requested.connect(lambda: self.reset_counters(confirm=True))
        self.lights = StatusLights()
        self.trend, self.defects = CycleTrendChart(), DefectBarChart()
        self.recent, self.gallery = RecentResults(), RejectGallery()
        self.table = self.recent.table
        self.table.open_requested.connect(self.open_result)
        self.gallery.open_requested.connect(self.open_result)

        right = QVBoxLayout()
        right.setContentsMargins(0, 0, 0, 0)
        right.addWidget(self.lights)
        charts = QHBoxLayout()
        charts.addWidget(self.trend, 3)
        charts.addWidget(self.defects, 2)
        right.addLayout(charts, 1)
        right_panel = QWidget()
        right_panel.setLayout(right)
        right_panel.setMinimumWidth(480)
        self.lights.setMinimumWidth(480)  # its texts wrap: the window's minimum height is taken at this width
        top = QSplitter(Qt.Orientation.Horizontal)
        top.addWidget(self.live)
        top.addWidget(right_panel)
        top.setStretchFactor(0, 3)
        top.setStretchFactor(1, 2)
        top.setSizes([600, 400])  # 3:2 from the start, so the lights' texts need no extra lines
        self.tabs = QTabWidget()
        self.tabs.addTab(self.gallery, "")
        self.tabs.addTab(self.recent, "")
        self.tabs.currentChanged.connect(lambda _i: self.refresh())
        main = QSplitter(Qt.Orientation.Vertical)
        main.addWidget(top)
        main.addWidget(self.tabs)
        main.setStretchFactor(0, 3)
        main.setStretchFactor(1, 1)
        main.setSizes([750, 250])  # the image and lights first; one row of rejects is enough to start
        main.setChildrenCollapsible(False)
        central = QWidget()
        box = QVBoxLayout(central)
        box.setContentsMargins(6, 4, 6, 4)
        box.setSpacing(3)
        box.addWidget(self.banner)
        # the counters span the window: a 7-digit count keeps big digits on a 1366-pixel screen
        box.addWidget(self.counters)
        box.addWidget(main, 1)
        self.setCentralWidget(central)
        self.message = QLabel()
        self._message: Callable[[], str] = str
        self.statusBar().addWidget(self.message, 1)
        self._scaled_for = -1
        self.resize(initial_size(available))
        self._scale_to(self.height())

    def resizeEvent(self, event: QResizeEvent | None) -> None:
        super().resizeEvent(event)
        self._scale_to(self.height())

    def _scale_to(self, height: int) -> None:
        """Banner, counters' digits and thumbnails follow the window's height (see screen_fit)."""
        if height == self._scaled_for:
            return
        self._scaled_for = height
        self.banner.setFixedHeight(banner_height(height))
        self.counters.set_value_px(counter_px(height))
        self.gallery.set_thumb_px(thumb_px(height))
        self.tabs.setMinimumHeight(self.tabs.tabBar().sizeHint().height() + self.gallery.row_height())

    def retranslate(self) -> None:
        title = translate("MainWindow", "Inspection station {0}").format(self.config.station.name)
        self.setWindowTitle(title)
        self.start_button.setText(translate("MainWindow", "Start"))
        self.stop_button.setText(translate("MainWindow", "Stop"))
        self.trigger_button.setText(translate("MainWindow", "Trigger one part"))
        self.ack_button.setText(translate("MainWindow", "Acknowledge error"))
        self.recipe_label.setText(translate("MainWindow", "Recipe:"))
        engineer = self.roles.is_engineer
        self.role_label.setText(translate("MainWindow", "Engineer: {0}").format(self.roles.who) if engineer
                                else translate("MainWindow", "Operator"))
        self.role_label.setStyleSheet("font-weight: bold; color: #E65100;" if engineer else "")
        self.engineer_button.setText(translate("MainWindow", "Leave engineer mode") if engineer
                                     else translate("MainWindow", "Engineer mode…"))
        self.recipes_button.setText(translate("MainWindow", "Recipes…"))
        self.audit_button.setText(translate("MainWindow", "Audit…"))
        self.tabs.setTabText(0, translate("MainWindow", "Last rejects"))
        self.tabs.setTabText(1, translate("MainWindow", "Recent results"))
        self.message.setText(self._message())  # the status bar too speaks the new language
        names = self.shown_names()
        self.table.set_names(names)
        self.gallery.set_names(names)
        self._stats_version = -1  # the bar chart's class names at the next tick
        self._lights_at = 0.0  # and the lights' texts
        self._update_controls()

    # ---------------------------------------------------------------- display timer
    def tick(self) -> None:
        batch = self.feed.take()
        st = self.controller.station
        if batch.latest is not None:
            insp = batch.latest.inspection
            names, roi = self.names_and_roi(insp.recipe)
            shown = self.shown_names(insp.recipe)
            self.live.show_result(batch.latest, names, roi, shown)
            detail = shown_list(dict.fromkeys(r.class_name or r.code for r in insp.decision.reasons), shown)
            if insp.verdict == Verdict.NOT_INSPECTED:
                detail = error_title(insp.decision.error_code) or detail
            self.banner.set_result(insp.verdict, insp.part_id, insp.timings_ms.get("total"), detail)
        for event in batch.events:
            self._on_event(event)
        for post in batch.posts:
            self.on_post(post)
        self.banner.set_blocked(self._blocked_text())
        now = time.monotonic()
        if (st is not None or self.last_station is not None) and (
            now - self._counters_at >= COUNTERS_PERIOD_S or batch.events or st is None
        ):
            self._counters_at = now
            self.counters.set_counts((st or self.last_station).counters)
        version, defects, cycles = self.feed.stats()
        if version != self._stats_version and now - self._charts_at >= CHART_PERIOD_S:
            self._stats_version, self._charts_at = version, now
            self.trend.set_values(cycles)
            recipe = st.recipe if st else None
            self.defects.set_counts(defects, self.names_and_roi(recipe)[0], self.shown_names(recipe))
        if now - self._lights_at >= LIGHTS_PERIOD_S or batch.events:
            self._lights_at = now
            self.lights.set_items(assess(StatusInputs(st, self.phase, self.config, self.start_error,
                                                      self.camera_error, self.store_error, self.health)))
            self.lights.set_tooltip("model", model_detail(st))
            self._update_controls()
        self._check_finished()

    def names_and_roi(self, recipe: str | None) -> tuple[tuple[str, ...], RectROI | PolygonROI | None]:
        st = self.controller.station
        cfg = st.config if st is not None else self.config
        r = cfg.recipes.get(recipe or cfg.active_recipe)
        if r is None:
            return (), None
        det = st.models().get(r.model) if st is not None else None
        return (tuple(det.info.names) if det else tuple(r.classes)), r.roi

    def shown_names(self, recipe: str | None = None) -> dict[str, str]:
        """class -> the name shown in the window's language (the recipe's display_names)."""
        st = self.controller.station
        cfg = st.config if st is not None else self.config
        r = cfg.recipes.get(recipe or (st.recipe if st is not None else cfg.active_recipe))
        return shown_names(r, self.translations.language)

    def _blocked_text(self) -> str | None:
        st = self.controller.station
        if self.phase == "starting":
            return translate("MainWindow", "STARTING")
        if self.phase == "stopping":
            return translate("MainWindow", "STOPPING")
        if self.phase == "failed":
            return translate("MainWindow", "NOT RUNNING")
        if st is None:
            return translate("MainWindow", "STOPPED")
        if st.state.value == "Error":
            return translate("MainWindow", "ERROR {0}").format(st.error_code or "")
        if not st.state.operational:
            return translate("MainWindow", "STOPPED")
        return None

    def _on_event(self, ev: StatusEvent) -> None:
        if ev.kind == "source":
            if ev.severity == Severity.ERROR:
                self.camera_error = ev.message
            elif "again" in ev.message:
                self.camera_error = None
        elif ev.kind == "store":
            if ev.severity == Severity.ERROR:
                self.store_error = ev.message
            elif "succeed again" in ev.message:
                self.store_error = None
        stamp, p = time.strftime("%H:%M:%S "), ev.payload
        if ev.severity == Severity.ERROR:
            self.show_message(stamp + ev.message, error=True)
        elif ev.kind == "recipe" and "saved" in p:
            self.show_message(lambda: stamp + translate("MainWindow", "Recipe {0} saved to {1}.")
                              .format(p.get("recipe"), p["saved"]))
        elif ev.kind == "recipe" and "save_error" in p:
            self.show_message(lambda: stamp + translate(
                "MainWindow", "Recipe {0} is applied but was NOT saved: {1}").format(p.get("recipe"),
                                                                                      p["save_error"]),
                error=True)

    def show_message(self, text: str | Callable[[], str], error: bool = False) -> None:
        """Show ``text`` in the status bar. Give a function that translates (``lambda: translate(...)``)
        and the message is written again in the new language when the operator switches."""
        self._message = text if callable(text) else (lambda: text)
        self.message.setStyleSheet("color: #B71C1C; font-weight: bold;" if error else "")
        self.message.setText(self._message())

    def _update_controls(self) -> None:
        st = self.controller.station
        running = st is not None and self.phase == "running"
        self.start_button.setEnabled(self.phase in ("stopped", "failed"))
        self.stop_button.setEnabled(running)
        self.trigger_button.setEnabled(running)
        self.ack_button.setEnabled(running and st is not None and st.state.value == "Error")
        self.recipes_button.setEnabled(running)
        if st is not None:
            recipes = st.recipes
            if recipes != self._recipe_items:  # compare with our copy: no Qt calls unless it changed
                self._recipe_items = list(recipes)
                self.recipe_box.clear()
                self.recipe_box.addItems(recipes)
            if self.recipe_box.currentText() != st.recipe and not self.recipe_box.view().isVisible():
                self.recipe_box.setCurrentText(st.recipe)
        self.recipe_box.setEnabled(running)

    # ---------------------------------------------------------------- DB reads (refresh timer)
    def refresh(self) -> None:
        # only the tab on show is read: the other is refreshed when it is picked
        if self.tabs.currentWidget() is self.recent:
            self.reader.request("recent", RECENT_ROWS)
        else:
            st = self.controller.station
            names = self.names_and_roi(st.recipe if st else None)[0]
            self.reader.request("gallery", self.config.ui.gallery_size, names)
        self.reader.request("health", self.controller.health)

    def _on_read(self, kind: str, payload: Any) -> None:
        if isinstance(payload, dict) and "error" in payload and kind != "health":
            return  # the DB not there yet (first start) or busy: the next refresh tries again
        if kind == "recent":
            self.table.set_rows(payload)
        elif kind == "gallery":
            self.gallery.set_items(payload)
        elif kind == "health":
            self.health = payload
        else:
            self.on_read_detail(kind, payload)

    # ---------------------------------------------------------------- lifecycle
    def _on_started(self, station: Station) -> None:
        self.phase, self.start_error = "running", None
        self._lights_at = 0.0  # a new phase shows at the next tick
        # final counters stay shown after a stop; the session audits the zeroing of a restart
        self.last_station = station
        self._update_controls()
        self.show_message(lambda: translate("MainWindow", "Station started."))
        if self.closing:
            self.phase = "stopping"
            self.controller.stop()

    def _on_start_failed(self, message: str) -> None:
        self.phase, self.start_error = "failed", message
        self._lights_at = 0.0  # a new phase shows at the next tick
        self.exit_code = 2
        self.show_message(lambda: translate("MainWindow", "Cannot start: {0}").format(message), error=True)
        if self.closing or self.max_parts is not None:  # a --max-parts run is a batch: fail like headless
            self.close()

    def _on_stopped(self) -> None:
        self.phase = "stopped"
        self._lights_at = 0.0  # a new phase shows at the next tick
        self.tick()  # the last results flushed by the stop
        self.refresh()
        if self.controller.last_error:
            self.show_message(self.controller.last_error, error=True)
        else:
            self.show_message(
                lambda: translate("MainWindow", "Station stopped; every queued result was saved."))
        if self.closing:
            self.close()

    def _check_finished(self) -> None:
        st = self.controller.station
        if self.max_parts is None or st is None or self._finished_handled:
            return
        if self.feed.results_seen >= self.max_parts:
            self._finished_handled = True  # like headless --max-parts: stop and leave
            self.close()

    def closeEvent(self, event: QCloseEvent | None) -> None:
        if event is None:
            return
        if self.controller.running or self.controller.busy:
            event.ignore()  # stop first (results flushed), then close from _on_stopped
            if not self.closing:
                self.closing = True
                if self.controller.running:
                    self.phase = "stopping"
                    self.controller.stop()
            return
        self.display_timer.stop()
        self.refresh_timer.stop()
        self.reader.close()
        self.close_dialogs()
        event.accept()

