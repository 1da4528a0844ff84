"""Two small charts for the shift, drawn with QPainter (no chart library to install or to freeze on):
the cycle-time trend of the last parts, and failed parts per defect class."""

from __future__ import annotations

import math
from collections.abc import Sequence

from PyQt6.QtCore import QPointF, QRectF, Qt
from PyQt6.QtGui import QColor, QFont, QPainter, QPen, QPolygonF
from PyQt6.QtWidgets import QSizePolicy, QWidget

from ui.i18n import Retranslatable, translate
from ui.overlay import class_colour

BG = QColor("#263238")
GRID = QColor("#455A64")
TEXT = QColor("#ECEFF1")


class _Chart(Retranslatable, QWidget):
    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setMinimumHeight(150)
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Expanding)

    def retranslate(self) -> None:
        self.update()

    def _frame(self, p: QPainter, title: str) -> QRectF:
        p.fillRect(self.rect(), BG)
        f = QFont(self.font())
        f.setPixelSize(15)
        f.setBold(True)
        p.setFont(f)
        p.setPen(TEXT)
        p.drawText(QRectF(8, 4, self.width() - 16, 22), Qt.AlignmentFlag.AlignLeft, title)
        f.setBold(False)
        f.setPixelSize(13)
        p.setFont(f)
        return QRectF(48, 36, self.width() - 58, self.height() - 48)


class CycleTrendChart(_Chart):
    """Cycle time (trigger to committed verdict) of the last parts, with mean and 95th percentile."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.values: list[float] = []

    def set_values(self, values: Sequence[float]) -> None:
        self.values = list(values)
        self.update()

    def paintEvent(self, _event: object) -> None:
        p = QPainter(self)
        v = self.values
        title = translate("Charts", "Cycle time (ms), last {0} parts").format(len(v))
        plot = self._frame(p, title)
        if v:
            s = sorted(v)
            mean, p95 = sum(v) / len(v), s[min(len(s) - 1, int(0.95 * len(s)))]
            p.drawText(QRectF(plot.left(), plot.top() - 6, plot.width(), 18), Qt.AlignmentFlag.AlignRight,
                       translate("Charts", "mean {0:.0f} · p95 {1:.0f}").format(mean, p95))
        top = max(v) * 1.15 if v else 100.0
        for frac in (0.0, 0.5, 1.0):
            y = plot.bottom() - frac * plot.height()
            p.setPen(QPen(GRID, 1))
            p.drawLine(QPointF(plot.left(), y), QPointF(plot.right(), y))
            p.setPen(TEXT)
            axis = QRectF(0, y - 9, plot.left() - 6, 18)
            p.drawText(axis, Qt.AlignmentFlag.AlignRight, f"{top * frac:.0f}")
        if len(v) >= 2:
            # at most one point per 2 px, drawn without antialiasing: a 600-point antialiased path cost
            # ~10 ms per paint, most of the window's CPU at 30 fps
            step = max(1, math.ceil(len(v) / max(1.0, plot.width() / 2)))
            pts = v[::step]
            dx = plot.width() / max(1, len(pts) - 1)
            poly = QPolygonF([QPointF(plot.left() + i * dx, plot.bottom() - val / top * plot.height())
                              for i, val in enumerate(pts)])
            p.setRenderHint(QPainter.RenderHint.Antialiasing, False)
            p.setPen(QPen(QColor("#4FC3F7"), 2))
            p.drawPolyline(poly)
        elif not v:
            p.drawText(plot, Qt.AlignmentFlag.AlignCenter, translate("Charts", "no parts yet"))
        p.end()


class DefectBarChart(_Chart):
    """Failed parts per defect class since the shift (counter reset) began."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.counts: dict[str, int] = {}
        self.names: Sequence[str] = ()

    def set_counts(self, counts: dict[str, int], names: Sequence[str]) -> None:
        self.counts, self.names = dict(counts), tuple(names)
        self.update()

    def paintEvent(self, _event: object) -> None:
        p = QPainter(self)
        plot = self._frame(p, translate("Charts", "Failed parts by class"))
        classes = list(self.names) or sorted(self.counts)
        classes += sorted(set(self.counts) - set(classes))
        if not classes:
            p.drawText(plot, Qt.AlignmentFlag.AlignCenter, translate("Charts", "no defects yet"))
            p.end()
            return
        top = max(self.counts.values(), default=0) or 1
        row = plot.height() / len(classes)
        label_w = 64.0
        plot = QRectF(0, plot.top(), self.width(), plot.height())  # no y axis here: bars use the width
        for i, name in enumerate(classes):
            y = plot.top() + i * row
            n = self.counts.get(name, 0)
            p.setPen(TEXT)
            p.drawText(QRectF(8, y, label_w, row), Qt.AlignmentFlag.AlignVCenter | Qt.AlignmentFlag.AlignLeft,
                       name)
            bar_w = (plot.width() - label_w - 40) * n / top
            bar = QRectF(label_w + 12, y + row * 0.15, bar_w, row * 0.7)
            p.fillRect(bar, class_colour(name, self.names))
            p.drawText(QRectF(bar.right() + 6, y, 60, row),
                       Qt.AlignmentFlag.AlignVCenter | Qt.AlignmentFlag.AlignLeft, str(n))
        p.end()
