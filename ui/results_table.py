"""The most recent results, as the DB has them (read by the DbReader thread); double-click to review."""

from __future__ import annotations

import time
from typing import Any

from PyQt6.QtCore import Qt, pyqtSignal
from PyQt6.QtGui import QBrush, QColor
from PyQt6.QtWidgets import QAbstractItemView, QHeaderView, QTableWidget, QTableWidgetItem, QWidget

from inspect_app.types import Verdict
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


def reasons_text(row: dict[str, Any]) -> str:
    reasons = row.get("reasons") or []
    if row.get("verdict") == Verdict.NOT_INSPECTED:
        return error_title(row.get("error_code"))
    classes = [r.get("class_name") or r.get("code") for r in reasons]
    return ", ".join(f"{c}×{classes.count(c)}" if classes.count(c) > 1 else str(c)
                     for c in dict.fromkeys(classes))


class ResultsTable(Retranslatable, QTableWidget):
    open_requested = pyqtSignal(int)  # inspection id

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(0, len(HEADERS), parent)
        self.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.verticalHeader().setVisible(False)
        self.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        self.horizontalHeader().setStretchLastSection(True)
        self.cellDoubleClicked.connect(self._open)
        self.ids: list[int] = []
        self._rows: list[dict[str, Any]] = []
        self.retranslate()

    def retranslate(self) -> None:
        self.setHorizontalHeaderLabels([translate("ResultsTable", h) for h in HEADERS])
        self.set_rows(self._rows, force=True)

    def set_rows(self, rows: list[dict[str, Any]], force: bool = False) -> None:
        if not force and [r["id"] for r in rows] == self.ids:
            return  # nothing new: keep the selection and the scroll position
        self._rows = rows
        self.ids = [r["id"] for r in rows]
        self.setRowCount(len(rows))
        for i, r in enumerate(rows):
            verdict = Verdict(r["verdict"])
            cycle = r.get("t_total_ms")
            cells = (
                time.strftime("%H:%M:%S", time.localtime(r["epoch"])),
                r["part_id"],
                translate("VerdictBanner", VERDICT_TEXT[verdict]),
                "" if cycle is None else f"{cycle:.0f}",
                r.get("recipe") or "",
                reasons_text(r),
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
