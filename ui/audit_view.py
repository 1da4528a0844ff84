"""The audit trail (who changed what, when, old → new), newest first, read from the DB."""

from __future__ import annotations

import time
from typing import Any

from PyQt6.QtCore import pyqtSignal
from PyQt6.QtWidgets import (
    QAbstractItemView,
    QDialog,
    QHBoxLayout,
    QHeaderView,
    QPushButton,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from ui.i18n import QT_TRANSLATE_NOOP, Retranslatable, translate

COLUMNS = (
    QT_TRANSLATE_NOOP("AuditView", "Time"),
    QT_TRANSLATE_NOOP("AuditView", "Who"),
    QT_TRANSLATE_NOOP("AuditView", "Role"),
    QT_TRANSLATE_NOOP("AuditView", "Action"),
    QT_TRANSLATE_NOOP("AuditView", "Target"),
    QT_TRANSLATE_NOOP("AuditView", "Old"),
    QT_TRANSLATE_NOOP("AuditView", "New"),
)
_CELL_CHARS = 400  # a whole recipe as JSON is long: the cell shows the start, the tooltip all of it


class AuditView(Retranslatable, QDialog):
    refresh_requested = pyqtSignal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.resize(1100, 600)
        self.table = QTableWidget(0, len(COLUMNS))
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.verticalHeader().setVisible(False)
        header = self.table.horizontalHeader()
        header.setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        header.setSectionResizeMode(5, QHeaderView.ResizeMode.Stretch)
        header.setSectionResizeMode(6, QHeaderView.ResizeMode.Stretch)
        self.refresh_button = QPushButton()
        self.refresh_button.clicked.connect(self.refresh_requested)
        self.close_button = QPushButton()
        self.close_button.clicked.connect(self.close)
        buttons = QHBoxLayout()
        buttons.addStretch(1)
        buttons.addWidget(self.refresh_button)
        buttons.addWidget(self.close_button)
        box = QVBoxLayout(self)
        box.addWidget(self.table)
        box.addLayout(buttons)
        self.rows: list[dict[str, Any]] = []
        self.retranslate()

    def set_rows(self, rows: list[dict[str, Any]]) -> None:
        self.rows = rows
        self.table.setRowCount(len(rows))
        for i, r in enumerate(rows):
            cells = (time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(r["epoch"])), r["who"], r["role"],
                     r["action"], r.get("target") or "", r.get("old") or "", r.get("new") or "")
            for j, text in enumerate(cells):
                item = QTableWidgetItem(text[:_CELL_CHARS])
                item.setToolTip(text)
                self.table.setItem(i, j, item)

    def retranslate(self) -> None:
        self.setWindowTitle(translate("AuditView", "Audit trail"))
        self.table.setHorizontalHeaderLabels([translate("AuditView", c) for c in COLUMNS])
        self.refresh_button.setText(translate("AuditView", "Refresh"))
        self.close_button.setText(translate("AuditView", "Close"))
