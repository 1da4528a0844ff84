"""Shift counters: total, pass, fail, not inspected and yield, big enough to read across the cell.

The numbers are the station's own (``Station.counters``, the ones the PLC sees too), so the window never
counts on its own and cannot drift from the line. Reset asks the station, which records it in the audit.
"""

from __future__ import annotations

from PyQt6.QtCore import Qt, pyqtSignal
from PyQt6.QtGui import QFont
from PyQt6.QtWidgets import QFrame, QGridLayout, QLabel, QPushButton, QVBoxLayout, QWidget

from ui.i18n import QT_TRANSLATE_NOOP, Retranslatable, translate

FIELDS = (
    ("total", QT_TRANSLATE_NOOP("Counters", "Total"), "#ECEFF1"),
    ("pass", QT_TRANSLATE_NOOP("Counters", "Pass"), "#A5D6A7"),
    ("fail", QT_TRANSLATE_NOOP("Counters", "Fail"), "#EF9A9A"),
    ("not_inspected", QT_TRANSLATE_NOOP("Counters", "Not inspected"), "#FFE082"),
    ("yield_pct", QT_TRANSLATE_NOOP("Counters", "Yield"), "#ECEFF1"),
)


class CountersPanel(Retranslatable, QFrame):
    reset_requested = pyqtSignal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setFrameShape(QFrame.Shape.StyledPanel)
        grid = QGridLayout()
        grid.setHorizontalSpacing(6)
        self.titles: dict[str, QLabel] = {}
        self.values: dict[str, QLabel] = {}
        for col, (key, _title, colour) in enumerate(FIELDS):
            title = QLabel()
            title.setAlignment(Qt.AlignmentFlag.AlignCenter)
            value = QLabel("0")
            value.setAlignment(Qt.AlignmentFlag.AlignCenter)
            f = QFont(value.font())
            f.setPixelSize(38)
            f.setBold(True)
            value.setFont(f)
            value.setStyleSheet(f"background: {colour}; color: #111; border-radius: 4px; padding: 2px 4px;")
            if key == "yield_pct":  # never squeezed into "/2.7%" by its neighbours
                value.setMinimumWidth(value.fontMetrics().horizontalAdvance("100.0%") + 10)
            tf = QFont(title.font())
            tf.setPixelSize(16)
            title.setFont(tf)
            grid.addWidget(title, 0, col)
            grid.addWidget(value, 1, col)
            grid.setColumnStretch(col, 1)
            self.titles[key], self.values[key] = title, value
        self.reset_button = QPushButton()
        self.reset_button.clicked.connect(self.reset_requested)
        grid.addWidget(self.reset_button, 0, len(FIELDS), 2, 1, alignment=Qt.AlignmentFlag.AlignBottom)
        box = QVBoxLayout(self)
        box.setContentsMargins(6, 4, 6, 6)
        box.addLayout(grid)
        self._shown: dict[str, float] = {}
        self.retranslate()

    def retranslate(self) -> None:
        for key, title, _ in FIELDS:
            self.titles[key].setText(translate("Counters", title))
        self.reset_button.setText(translate("Counters", "Reset…"))
        self.reset_button.setToolTip(translate("Counters", "Reset counters…"))

    def set_counts(self, counts: dict[str, float]) -> None:
        for key, *_ in FIELDS:
            v = counts.get(key, 0)
            if self._shown.get(key) == v:
                continue  # setText relayouts: skip when nothing changed
            self._shown[key] = v
            self.values[key].setText(f"{v:.1f}%" if key == "yield_pct" else f"{int(v)}")
