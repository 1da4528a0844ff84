"""The most recent results, as the DB has them (read by the DbReader thread); double-click to review.

New rows never move what the operator is looking at. While a row is selected, the pointer is over the
table or it is scrolled down, newer results wait: a bar above the table says how many ("12 new results")
and shows them on a click; they are shown at once when the operator lets go (selection cleared, pointer
gone, back at the top). The selection belongs to the part (its inspection id), not to a row number, so it
stays on that part whenever the rows are rebuilt (a language switch, showing the new rows).
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from typing import Any

from PyQt6.QtCore import QEvent, Qt, pyqtSignal
from PyQt6.QtGui import QBrush, QColor
from PyQt6.QtWidgets import (
    QAbstractItemView,
    QHeaderView,
    QPushButton,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from inspect_app.types import Verdict
from ui.class_names import shown
from ui.i18n import QT_TRANSLATE_NOOP, Retranslatable, translate
from ui.reason_text import error_title
from ui.verdict_banner import COLOURS, TEXT_COLOURS, VERDICT_TEXT

HEADERS = (
    QT_TRANSLATE_NOOP("ResultsTable", "Time"),
    QT_TRANSLATE_NOOP("ResultsTable", "Part"),
    QT_TRANSLATE_NOOP("ResultsTable", "Verdict"),
    QT_TRANSLATE_NOOP("ResultsTable", "Cycle ms"),
    QT_TRANSLATE_NOOP("ResultsTable", "Recipe"),
    QT_TRANSLATE_NOOP("ResultsTable", "Reasons"),
)


def reasons_text(row: dict[str, Any], names: Mapping[str, str] | None = None) -> str:
    reasons = row.get("reasons") or []
    if row.get("verdict") == Verdict.NOT_INSPECTED:
        return error_title(row.get("error_code"))
    classes = [shown(r["class_name"], names or {}) if r.get("class_name") else r.get("code") for r in reasons]
    return ", ".join(f"{c}×{classes.count(c)}" if classes.count(c) > 1 else str(c)
                     for c in dict.fromkeys(classes))


class ResultsTable(Retranslatable, QTableWidget):
    open_requested = pyqtSignal(int)  # inspection id
    waiting_changed = pyqtSignal(int)  # how many newer results wait to be shown

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(0, len(HEADERS), parent)
        self.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.verticalHeader().setVisible(False)
        self.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        self.horizontalHeader().setStretchLastSection(True)
        self.cellDoubleClicked.connect(self._open)
        self.itemSelectionChanged.connect(self._maybe_release)
        self.verticalScrollBar().valueChanged.connect(lambda _v: self._maybe_release())
        self.ids: list[int] = []
        self.names: Mapping[str, str] = {}  # class -> display name
        self._rows: list[dict[str, Any]] = []
        self._waiting: list[dict[str, Any]] | None = None  # newer rows held back
        self._pointer_inside = False
        self.retranslate()

    # ---------------------------------------------------------------- what the operator holds
    def selected_id(self) -> int | None:
        rows = self.selectionModel().selectedRows()
        return self.ids[rows[0].row()] if rows and rows[0].row() < len(self.ids) else None

    def holding(self) -> bool:
        """The operator is looking at rows: one is selected, the pointer is on them, or scrolled down."""
        return self.selected_id() is not None or self._pointer_inside or self.verticalScrollBar().value() > 0

    def waiting(self) -> int:
        if self._waiting is None:
            return 0
        newest = self.ids[0] if self.ids else -1
        return sum(1 for r in self._waiting if r["id"] > newest)

    def enterEvent(self, event: QEvent | None) -> None:
        self._pointer_inside = True
        super().enterEvent(event)

    def leaveEvent(self, event: QEvent | None) -> None:
        self._pointer_inside = False
        super().leaveEvent(event)
        self._maybe_release()

    # ---------------------------------------------------------------- rows
    def retranslate(self) -> None:
        self.setHorizontalHeaderLabels([translate("ResultsTable", h) for h in HEADERS])
        self._show(self._rows)

    def set_names(self, names: Mapping[str, str]) -> None:
        if dict(names) != dict(self.names):
            self.names = dict(names)
            self._show(self._rows)

    def set_rows(self, rows: list[dict[str, Any]]) -> None:
        if [r["id"] for r in rows] == self.ids:
            self._drop_waiting()
            return  # nothing new: keep the selection and the scroll position
        if self.holding():
            self._waiting = rows
            self.waiting_changed.emit(self.waiting())
            return
        self._show(rows)

    def show_waiting(self) -> None:
        """Show the newer rows (the operator asked): the selected part stays selected if still listed."""
        if self._waiting is not None:
            self._show(self._waiting)
        self.verticalScrollBar().setValue(0)

    def _maybe_release(self) -> None:
        if self._waiting is not None and not self.holding():
            self._show(self._waiting)

    def _drop_waiting(self) -> None:
        if self._waiting is not None:
            self._waiting = None
            self.waiting_changed.emit(0)

    def _show(self, rows: list[dict[str, Any]]) -> None:
        keep = self.selected_id()
        self._drop_waiting()
        self._rows = rows
        self.ids = [r["id"] for r in rows]
        self.blockSignals(True)  # a rebuild is not the operator changing the selection
        try:
            self.clearSelection()
            self.setRowCount(len(rows))
            for i, r in enumerate(rows):
                self._fill(i, r)
            if keep in self.ids:
                self.selectRow(self.ids.index(keep))
        finally:
            self.blockSignals(False)

    def _fill(self, i: int, r: dict[str, Any]) -> None:
        verdict = Verdict(r["verdict"])
        cycle = r.get("t_total_ms")
        cells = (
            time.strftime("%H:%M:%S", time.localtime(r["epoch"])),
            r["part_id"],
            translate("VerdictBanner", VERDICT_TEXT[verdict]),
            "" if cycle is None else f"{cycle:.0f}",
            r.get("recipe") or "",
            reasons_text(r, self.names),
        )
        for j, text in enumerate(cells):
            item = QTableWidgetItem(text)
            if j == 2:
                item.setBackground(QBrush(QColor(COLOURS[verdict])))
                item.setForeground(QBrush(QColor(TEXT_COLOURS[verdict])))
            if j == 3:
                item.setTextAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
            self.setItem(i, j, item)

    def _open(self, row: int, _col: int) -> None:
        if 0 <= row < len(self.ids):
            self.open_requested.emit(self.ids[row])


class RecentResults(Retranslatable, QWidget):
    """The table with, above it, the bar that says how many newer results wait."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.table = ResultsTable()
        self.new_button = QPushButton()
        self.new_button.setStyleSheet("QPushButton { background: #1565C0; color: white; font-weight: bold; "
                                      "padding: 4px; }")
        self.new_button.clicked.connect(self.table.show_waiting)
        self.new_button.hide()
        self.table.waiting_changed.connect(self._on_waiting)
        box = QVBoxLayout(self)
        box.setContentsMargins(0, 0, 0, 0)
        box.setSpacing(2)
        box.addWidget(self.new_button)
        box.addWidget(self.table, 1)
        self.retranslate()

    def _on_waiting(self, n: int) -> None:
        self.new_button.setVisible(n > 0)
        self.retranslate()

    def retranslate(self) -> None:
        n = self.table.waiting()
        self.new_button.setText(translate("ResultsTable", "{0} new — show them").format(n))
