"""The recipe editor's what-if line: what the edited recipe would have decided on the last parts of that
recipe ("on the last 5,000 parts: 12 flips, 3 false rejects fixed, 1 new escape"), before it is applied.

Computed by ``inspect_app.replay.run_replay`` off the Qt thread, on a pool thread of its own at a lower
priority than the window (which is itself below the inspection): the station runs in this process and the
line comes first. Each edit restarts a short debounce; a new request cancels the one running (its result,
should it still arrive, is dropped by generation number). The preview replays stored detections only: that
is exact and needs no model, so the window never runs a second inference beside the line. A threshold below
the live one needs the stored images; the line then says how many parts it could not judge and points to
``inspect-app replay``.
"""

from __future__ import annotations

import threading
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from PyQt6.QtCore import QObject, QRunnable, QThreadPool, QTimer, pyqtSignal
from PyQt6.QtWidgets import QLabel, QWidget

from inspect_app.config import RecipeConfig, StationConfig
from inspect_app.protocols import ModelInfo
from inspect_app.replay import (
    FAIL_TO_PASS,
    PASS_TO_FAIL,
    ReplayCancelled,
    ReplayFilters,
    ReplayReport,
    run_replay,
)
from ui.i18n import Retranslatable, translate
from ui.priority import lower_this_thread

DEFAULT_LAST = 5000
DEBOUNCE_MS = 400
NICE_BELOW_WINDOW = 5
_lowered = threading.local()  # the pool reuses its thread: lower it once, not once per replay


@dataclass(frozen=True)
class PreviewSource:
    """Where the preview reads the history and what it knows of the live models."""

    db_path: Path
    config: StationConfig
    models: Mapping[str, ModelInfo]  # release directory -> its model (the running station's detectors)
    last: int = DEFAULT_LAST


class _Signals(QObject):
    done = pyqtSignal(int, object)  # generation, ReplayReport
    failed = pyqtSignal(int, str)
    progress = pyqtSignal(int, int, int)  # generation, done, total


class _Job(QRunnable):
    def __init__(
        self,
        generation: int,
        source: PreviewSource,
        name: str,
        recipe: RecipeConfig,
        cancel: threading.Event,
        signals: _Signals,
    ) -> None:
        super().__init__()
        self.generation, self.source, self.name, self.recipe = generation, source, name, recipe
        self.cancel, self.signals = cancel, signals

    def run(self) -> None:
        if not getattr(_lowered, "done", False):
            _lowered.done = lower_this_thread(NICE_BELOW_WINDOW) or True
        gen = self.generation
        try:
            report = run_replay(
                self.source.db_path, candidate_recipe=self.recipe, config=self.source.config,
                filters=ReplayFilters(recipe=self.name, last=self.source.last), mode="detections",
                model_infos=self.source.models, should_stop=self.cancel.is_set,
                progress=lambda d, t: self._emit("progress", gen, d, t),
            )  # fmt: skip
        except ReplayCancelled:
            return
        except Exception as exc:  # noqa: BLE001  worker boundary: shown in the editor, never kills the window
            self._emit("failed", gen, f"{type(exc).__name__}: {exc}")
            return
        self._emit("done", gen, report)

    def _emit(self, name: str, *args: object) -> None:
        """Emit, unless this replay is stale or the editor was destroyed meanwhile (the window closing): an
        exception escaping a pool thread would end the process."""
        if self.cancel.is_set():
            return
        try:
            getattr(self.signals, name).emit(*args)
        except RuntimeError:  # the signals' QObject is gone with its editor
            self.cancel.set()


class ReplayPreview(Retranslatable, QLabel):
    """A label that shows the what-if of the recipe last ``request``ed."""

    finished = pyqtSignal(object)  # ReplayReport of the latest request (tests and the window may listen)

    def __init__(self, parent: QWidget | None = None, debounce_ms: int = DEBOUNCE_MS) -> None:
        super().__init__(parent)
        self.setWordWrap(True)
        self.source: PreviewSource | None = None
        self.report: ReplayReport | None = None
        self.error: str | None = None
        self.pool = QThreadPool(self)
        self.pool.setMaxThreadCount(1)  # one replay at a time: a cancelled one ends before the next starts
        self._signals = _Signals(self)
        self._signals.done.connect(self._done)
        self._signals.failed.connect(self._failed)
        self._signals.progress.connect(self._progress)
        self._generation = 0
        self._cancel = threading.Event()
        self._pending: tuple[str, RecipeConfig] | None = None
        self._running = False
        self._timer = QTimer(self)
        self._timer.setSingleShot(True)
        self._timer.setInterval(debounce_ms)
        self._timer.timeout.connect(self._start)
        self.retranslate()

    def set_source(self, source: PreviewSource | None) -> None:
        self.source = source

    def request(self, name: str, recipe: RecipeConfig) -> None:
        """Preview ``recipe`` for the parts of recipe ``name``; the replay starts once edits pause."""
        if self.source is None:
            return
        self._cancel.set()  # the running one is stale now
        self._pending = (name, recipe)
        self._timer.start()
        self._running = True
        self._show()

    def invalid(self, why: str) -> None:
        """The edit is not a valid recipe: no preview, and say why."""
        self._timer.stop()
        self._cancel.set()
        self._pending = None
        self._running = False
        self.report, self.error = None, why
        self._show()

    def busy(self) -> bool:
        return self._running

    def wait(self, msecs: int = 30_000) -> bool:
        """Tests: run the debounce now and block until the pool is idle."""
        if self._timer.isActive():
            self._timer.stop()
            self._start()
        return self.pool.waitForDone(msecs)

    def shutdown(self) -> None:
        self._timer.stop()
        self._cancel.set()
        self.pool.waitForDone(5_000)

    # ---------------------------------------------------------------- internals
    def _start(self) -> None:
        if self._pending is None or self.source is None:
            return
        name, recipe = self._pending
        self._pending = None
        self._generation += 1
        self._cancel = threading.Event()
        self.pool.start(_Job(self._generation, self.source, name, recipe, self._cancel, self._signals))

    def _done(self, generation: int, report: ReplayReport) -> None:
        if generation != self._generation or self._pending is not None:
            return  # an older edit's answer
        self.report, self.error, self._running = report, None, False
        self._show()
        self.finished.emit(report)

    def _failed(self, generation: int, message: str) -> None:
        if generation != self._generation or self._pending is not None:
            return
        self.report, self.error, self._running = None, message, False
        self._show()

    def _progress(self, generation: int, done: int, total: int) -> None:
        if generation == self._generation and self._running:
            text = translate("ReplayPreview", "Replaying the last parts… {0} of {1}")
            self.setText(text.format(done, total))

    def _show(self) -> None:
        if self.source is None:
            self.setText("")
        elif self._running:
            self.setText(translate("ReplayPreview", "Replaying the last parts…"))
        elif self.error:
            self.setText(translate("ReplayPreview", "No preview: {0}").format(self.error))
        elif self.report is not None:
            self.setText(preview_text(self.report))
        else:
            self.setText("")
        # a new escape is the outcome the engineer must not miss
        bad = self.report is not None and self.report.reviews.escapes_introduced and not self._running
        self.setStyleSheet("color: #B71C1C; font-weight: bold;" if bad else "")

    def retranslate(self) -> None:
        self.setToolTip(
            translate(
                "ReplayPreview",
                "What this edit would have decided on the last parts of this recipe, from their stored "
                "detections; nothing is applied until you press Apply.",
            )
        )
        self._show()


def preview_text(report: ReplayReport) -> str:
    """The line under the recipe form, in the window's language."""
    if report.selected == 0:
        return translate("ReplayPreview", "No stored part of this recipe yet: nothing to compare.")
    r = report.reviews
    text = translate(
        "ReplayPreview",
        "On the last {0} parts: {1} flips ({2} PASS→FAIL, {3} FAIL→PASS), {4} false rejects fixed, "
        "{5} new escapes.",
    ).format(
        f"{report.selected:,}", report.n_flips, report.flips.get(PASS_TO_FAIL, 0),
        report.flips.get(FAIL_TO_PASS, 0), r.false_rejects_removed, r.escapes_introduced,
    )  # fmt: skip
    y = report.yield_estimate
    if y.yield_before_pct is not None and y.yield_after_pct is not None:
        text += " " + translate("ReplayPreview", "Yield {0} % → {1} %.").format(
            f"{y.yield_before_pct:.2f}", f"{y.yield_after_pct:.2f}"
        )
    skipped = sum(report.not_replayable.values())
    if skipped:
        text += " " + translate(
            "ReplayPreview",
            "{0} parts could not be judged from their stored detections (a threshold below the one that "
            "judged them, another model, or no verdict): run inspect-app replay to judge them from their "
            "images.",
        ).format(skipped)
    return text
