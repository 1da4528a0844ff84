"""Shift counters: total, pass, fail, not inspected and yield, big enough to read across the cell.

The numbers are the station's own (``Station.counters``, the ones the PLC sees too), so the window never
counts on its own and cannot drift from the line. Reset asks the station, which records it in the audit.
"""

from __future__ import annotations

from PyQt6.QtCore import QLocale, Qt, pyqtSignal
from PyQt6.QtWidgets import QFrame, QGridLayout, QPushButton, QVBoxLayout, QWidget

from ui.fit_label import FitLabel
from ui.i18n import QT_TRANSLATE_NOOP, Retranslatable, translate

FIELDS = (
    ("total", QT_TRANSLATE_NOOP("Counters", "Total"), "#ECEFF1"),
    ("pass", QT_TRANSLATE_NOOP("Counters", "Pass"), "#A5D6A7"),
    ("fail", QT_TRANSLATE_NOOP("Counters", "Fail"), "#EF9A9A"),
    ("not_inspected", QT_TRANSLATE_NOOP("Counters", "Not inspected"), "#FFE082"),
    ("yield_pct", QT_TRANSLATE_NOOP("Counters", "Yield"), "#ECEFF1"),
)
VALUE_PX, VALUE_MIN_PX = 38, 18  # 38 px digits read from two metres; 18 px is the least a count shrinks to


def count_text(key: str, value: float) -> str:
    """A count with the language's digit grouping (1,234,567), the yield with one decimal."""
    return f"{value:.1f}%" if key == "yield_pct" else QLocale().toString(int(value))


class CountersPanel(Retranslatable, QFrame):
    """One strip across the window: five cells of equal width, so a 7-digit count keeps its big digits on
    a 1366-pixel screen; a count too wide for its cell shrinks (``FitLabel``), it is never cut."""

    reset_requested = pyqtSignal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setFrameShape(QFrame.Shape.StyledPanel)
        grid = QGridLayout()
        grid.setHorizontalSpacing(6)
        grid.setVerticalSpacing(2)
        self.titles: dict[str, FitLabel] = {}
        self.values: dict[str, FitLabel] = {}
        for col, (key, _title, colour) in enumerate(FIELDS):
            title = FitLabel(px=16, min_px=11)
            title.setAlignment(Qt.AlignmentFlag.AlignCenter)
            value = FitLabel("0", px=VALUE_PX, min_px=VALUE_MIN_PX, bold=True)
            value.setAlignment(Qt.AlignmentFlag.AlignCenter)
            value.setContentsMargins(4, 0, 4, 0)  # not style-sheet padding: contentsRect() knows margins
            value.setStyleSheet(f"background: {colour}; color: #111; border-radius: 4px;")
            grid.addWidget(title, 0, col)
            grid.addWidget(value, 1, col)
            grid.setColumnStretch(col, 1)
            self.titles[key], self.values[key] = title, value
        self.reset_button = QPushButton()
        self.reset_button.clicked.connect(self.reset_requested)
        grid.addWidget(self.reset_button, 0, len(FIELDS), 2, 1, alignment=Qt.AlignmentFlag.AlignBottom)
        box = QVBoxLayout(self)
        box.setContentsMargins(6, 2, 6, 3)
        box.addLayout(grid)
        self._shown: dict[str, float] = {}
        self.retranslate()

    def set_value_px(self, px: int) -> None:
        for value in self.values.values():
            value.set_px(px)

    def retranslate(self) -> None:
        for key, title, _ in FIELDS:
            self.titles[key].setText(translate("Counters", title))
        self.reset_button.setText(translate("Counters", "Reset…"))
        self.reset_button.setToolTip(translate("Counters", "Reset counters…"))
        shown, self._shown = self._shown, {}
        self.set_counts(shown)  # digit grouping follows the language

    def set_counts(self, counts: dict[str, float]) -> None:
        for key, *_ in FIELDS:
            v = counts.get(key, 0)
            if self._shown.get(key) == v:
                continue  # setText relayouts: skip when nothing changed
            self._shown[key] = v
            self.values[key].setText(count_text(key, v))
