"""The window's one rule for a label that must be read whole (a counter, a chart's title, a light's name):
its text is measured with the font's metrics, never clipped and never elided.

A ``FitLabel`` draws at its preferred pixel size when the text fits its contents rectangle, and at the
largest smaller size that fits when it does not (a count that grows from 0 to 1,234,567). It asks its
layout for the width of its text at ``min_px``, so no layout can squeeze it below a readable size; and
``fits()`` is the check the tests apply to every label of the counters, charts and lights.
"""

from __future__ import annotations

from PyQt6.QtCore import QSize
from PyQt6.QtGui import QFont, QFontMetrics, QResizeEvent
from PyQt6.QtWidgets import QLabel, QSizePolicy, QWidget


def fits(label: QLabel) -> bool:
    """Whether every line of the label's text is as narrow as its contents rectangle (and, for a label
    that wraps, all its lines are as short as the rectangle)."""
    width = label.contentsRect().width() - 2 * label.margin()
    if label.wordWrap():
        words = label.text().split()
        fm = QFontMetrics(label.font())
        return (all(fm.horizontalAdvance(w) <= width for w in words)
                and label.heightForWidth(label.width()) <= label.height())
    fm = QFontMetrics(label.font())
    return all(fm.horizontalAdvance(line) <= width for line in label.text().split("\n"))


def text_width(font: QFont, text: str) -> int:
    fm = QFontMetrics(font)
    return max((fm.horizontalAdvance(line) for line in text.split("\n")), default=0)


class FitLabel(QLabel):
    def __init__(self, text: str = "", px: int = 16, min_px: int = 11, bold: bool = False,
                 parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.px, self.min_px = px, min_px
        font = QFont(self.font())
        font.setPixelSize(px)
        font.setBold(bold)
        self.setFont(font)
        self.setSizePolicy(QSizePolicy.Policy.Preferred, QSizePolicy.Policy.Fixed)
        self.setText(text)

    def set_px(self, px: int) -> None:
        """A new preferred size (the window grew or shrank)."""
        if px != self.px:
            self.px = px
            font = QFont(self.font())
            font.setPixelSize(px)
            self.setFont(font)
            self._fit()
            self.updateGeometry()

    def setText(self, text: str | None) -> None:
        if text == self.text():
            return
        super().setText(text)
        self._fit()
        self.updateGeometry()  # the minimum width follows the text

    def minimumSizeHint(self) -> QSize:
        small = QFont(self.font())
        small.setPixelSize(self.min_px)
        m = self.contentsMargins()
        extra = m.left() + m.right() + 2 * self.margin()
        return QSize(text_width(small, self.text()) + extra + 1, super().minimumSizeHint().height())

    def sizeHint(self) -> QSize:
        big = QFont(self.font())
        big.setPixelSize(self.px)
        m = self.contentsMargins()
        height = QFontMetrics(big).height() + m.top() + m.bottom() + 2 * self.margin()
        return QSize(text_width(big, self.text()) + m.left() + m.right() + 2 * self.margin() + 1, height)

    def resizeEvent(self, event: QResizeEvent | None) -> None:
        super().resizeEvent(event)
        self._fit()

    def _fit(self) -> None:
        available = self.contentsRect().width() - 2 * self.margin()
        font = QFont(self.font())
        font.setPixelSize(self.px)
        wide = text_width(font, self.text())
        if wide > available > 0:
            # proportional first guess, then down a pixel at a time (glyph widths do not scale exactly)
            size = max(self.min_px, int(self.px * available / wide))
            font.setPixelSize(size)
            while size > self.min_px and text_width(font, self.text()) > available:
                size -= 1
                font.setPixelSize(size)
        if font.pixelSize() != self.font().pixelSize():
            self.setFont(font)
