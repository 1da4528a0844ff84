"""Two small charts for the shift, drawn with QPainter (no chart library to install or to freeze on):
the cycle-time trend of the last parts, and failed parts per defect class.

Each chart is a title (a ``FitLabel``, as every label of the window) over a plot whose axis and bar labels
are laid out by the same rule: every text gets a rectangle as wide as its font metrics say, the plot takes
what is left. ``text_boxes()`` returns those rectangles, for the paint and for the tests.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

from PyQt6.QtCore import QLocale, QPointF, QRectF, Qt
from PyQt6.QtGui import QColor, QFont, QFontMetricsF, QPainter, QPen, QPolygonF
from PyQt6.QtWidgets import QFrame, QHBoxLayout, QSizePolicy, QVBoxLayout, QWidget

from ui.fit_label import FitLabel
from ui.i18n import Retranslatable, translate
from ui.overlay import class_colour

BG = QColor("#263238")
GRID = QColor("#455A64")
TEXT = QColor("#ECEFF1")
LABEL_PX = 13
PAD = 6.0

TextBox = tuple[str, QRectF]


def label_font(base: QFont) -> QFont:
    f = QFont(base)
    f.setPixelSize(LABEL_PX)
    f.setBold(False)
    return f


class _ChartPanel(Retranslatable, QFrame):
    """A dark panel: a title row of labels over a painted plot."""

    def __init__(self, plot: _Plot, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("chart")
        self.setStyleSheet(f"QFrame#chart {{ background: {BG.name()}; }} QLabel {{ color: {TEXT.name()}; }}")
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Expanding)
        self.title = FitLabel(px=15, min_px=11, bold=True)
        self.stats = FitLabel(px=LABEL_PX, min_px=10)
        self.stats.setAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        row = QHBoxLayout()
        row.setContentsMargins(0, 0, 0, 0)
        row.addWidget(self.title, 1)
        row.addWidget(self.stats)
        self.plot = plot
        box = QVBoxLayout(self)
        box.setContentsMargins(8, 3, 8, 4)
        box.setSpacing(1)
        box.addLayout(row)
        box.addWidget(plot, 1)

    def text_boxes(self) -> list[TextBox]:
        return self.plot.text_boxes()


class _Plot(QWidget):
    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setMinimumHeight(60)
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Expanding)

    def text_boxes(self) -> list[TextBox]:
        raise NotImplementedError


class _TrendPlot(_Plot):
    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.values: list[float] = []

    def _layout(self) -> tuple[QRectF, float, list[TextBox]]:
        """(plot area, top of the y axis, tick labels)."""
        v = self.values
        top = max(v) * 1.15 if v else 100.0
        fm = QFontMetricsF(label_font(self.font()))
        ticks = [(frac, f"{top * frac:.0f}") for frac in (0.0, 0.5, 1.0)]
        axis_w = max(fm.horizontalAdvance(t) for _, t in ticks) + 1
        half = fm.height() / 2
        plot = QRectF(axis_w + PAD, half, max(1.0, self.width() - axis_w - PAD - 2),
                      max(1.0, self.height() - 2 * half))
        boxes = [(t, QRectF(0, plot.bottom() - frac * plot.height() - half, axis_w, 2 * half))
                 for frac, t in ticks]
        return plot, top, boxes

    def text_boxes(self) -> list[TextBox]:
        return self._layout()[2]

    def paintEvent(self, _event: object) -> None:
        p = QPainter(self)
        p.fillRect(self.rect(), BG)
        p.setFont(label_font(self.font()))
        plot, top, boxes = self._layout()
        for frac in (0.0, 0.5, 1.0):
            y = plot.bottom() - frac * plot.height()
            p.setPen(QPen(GRID, 1))
            p.drawLine(QPointF(plot.left(), y), QPointF(plot.right(), y))
        p.setPen(TEXT)
        for text, box in boxes:
            p.drawText(box, Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter, text)
        v = self.values
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


class CycleTrendChart(_ChartPanel):
    """Cycle time (trigger to committed verdict) of the last parts, with mean and 95th percentile."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(_TrendPlot(), parent)
        self.retranslate()

    @property
    def values(self) -> list[float]:
        return self.plot.values  # type: ignore[attr-defined]

    def set_values(self, values: Sequence[float]) -> None:
        self.plot.values = list(values)  # type: ignore[attr-defined]
        self.retranslate()
        self.plot.update()

    def retranslate(self) -> None:
        v = self.values
        self.title.setText(translate("Charts", "Cycle time (ms)"))
        if v:
            s = sorted(v)
            mean, p95 = sum(v) / len(v), s[min(len(s) - 1, int(0.95 * len(s)))]
            n = QLocale().toString(len(v))
            stats = translate("Charts", "last {0}: mean {1:.0f} · p95 {2:.0f}")
            self.stats.setText(stats.format(n, mean, p95))
        else:
            self.stats.setText("")
        self.plot.update()


class _BarPlot(_Plot):
    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.counts: dict[str, int] = {}
        self.names: Sequence[str] = ()  # the model's classes, for the colours
        self.shown: Mapping[str, str] = {}  # class -> the name shown (display names of the language)

    def classes(self) -> list[str]:
        classes = list(self.names) or sorted(self.counts)
        return classes + sorted(set(self.counts) - set(classes))

    def _layout(self) -> list[tuple[str, QRectF, QRectF, QRectF]]:
        """Per class: (class, name box, bar area, count box)."""
        classes = self.classes()
        if not classes:
            return []
        fm = QFontMetricsF(label_font(self.font()))
        name_w = max(fm.horizontalAdvance(self.shown.get(c, c)) for c in classes) + 1
        count_w = max(fm.horizontalAdvance(QLocale().toString(self.counts.get(c, 0))) for c in classes)
        count_w += 1
        row = self.height() / len(classes)
        bars_w = max(1.0, self.width() - name_w - count_w - 3 * PAD)
        out = []
        for i, c in enumerate(classes):
            y = i * row
            out.append((c, QRectF(0, y, name_w, row), QRectF(name_w + PAD, y, bars_w, row),
                        QRectF(name_w + 2 * PAD + bars_w, y, count_w, row)))
        return out

    def text_boxes(self) -> list[TextBox]:
        return [t for c, name, _bar, count in self._layout()
                for t in ((self.shown.get(c, c), name), (QLocale().toString(self.counts.get(c, 0)), count))]

    def paintEvent(self, _event: object) -> None:
        p = QPainter(self)
        p.fillRect(self.rect(), BG)
        p.setFont(label_font(self.font()))
        p.setPen(TEXT)
        rows = self._layout()
        if not rows:
            empty = translate("Charts", "no defects yet")
            p.drawText(QRectF(self.rect()), Qt.AlignmentFlag.AlignCenter, empty)
            p.end()
            return
        top = max(self.counts.values(), default=0) or 1
        left = Qt.AlignmentFlag.AlignVCenter | Qt.AlignmentFlag.AlignLeft
        for c, name, bar, count in rows:
            n = self.counts.get(c, 0)
            p.drawText(name, left, self.shown.get(c, c))
            filled = QRectF(bar.left(), bar.top() + bar.height() * 0.15, bar.width() * n / top,
                            bar.height() * 0.7)
            p.fillRect(filled, class_colour(c, self.names))
            right = Qt.AlignmentFlag.AlignVCenter | Qt.AlignmentFlag.AlignRight
            p.drawText(count, right, QLocale().toString(n))
        p.end()


class DefectBarChart(_ChartPanel):
    """Failed parts per defect class since the shift (counter reset) began."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(_BarPlot(), parent)
        self.retranslate()

    @property
    def counts(self) -> dict[str, int]:
        return self.plot.counts  # type: ignore[attr-defined]

    def set_counts(self, counts: dict[str, int], names: Sequence[str],
                   shown: Mapping[str, str] | None = None) -> None:
        plot: _BarPlot = self.plot  # type: ignore[assignment]
        plot.counts, plot.names, plot.shown = dict(counts), tuple(names), dict(shown or {})
        plot.update()

    def retranslate(self) -> None:
        self.title.setText(translate("Charts", "Failed parts by class"))
        self.plot.update()
