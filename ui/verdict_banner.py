"""The verdict banner: what the operator reads from two metres away.

PASS green, FAIL red, NOT INSPECTED amber, with the part id and the cycle time. Text is sized from the
banner's height: the verdict at 60 % of it (capitals ~16 mm tall on a 24-inch 1080p screen), part id and
cycle time at 28 % (~8 mm): a common legibility rule asks for letters of at least distance / 250, 8 mm at
2 m. When the station is not inspecting (stopped, Error, starting) the banner says so in grey over the
last verdict, instead of showing a green PASS that is no longer true of the line.
"""

from __future__ import annotations

from PyQt6.QtCore import QRectF, Qt
from PyQt6.QtGui import QColor, QFont, QFontMetricsF, QPainter, QPixmap
from PyQt6.QtWidgets import QSizePolicy, QWidget

from inspect_app.types import Verdict
from ui.i18n import QT_TRANSLATE_NOOP, Retranslatable, translate

COLOURS = {Verdict.PASS: "#1B8E3E", Verdict.FAIL: "#C62828", Verdict.NOT_INSPECTED: "#F2A900"}
TEXT_COLOURS = {Verdict.PASS: "white", Verdict.FAIL: "white", Verdict.NOT_INSPECTED: "black"}
VERDICT_TEXT = {
    Verdict.PASS: QT_TRANSLATE_NOOP("VerdictBanner", "PASS"),
    Verdict.FAIL: QT_TRANSLATE_NOOP("VerdictBanner", "FAIL"),
    Verdict.NOT_INSPECTED: QT_TRANSLATE_NOOP("VerdictBanner", "NOT INSPECTED"),
}
IDLE_COLOUR = "#455A64"
BACKDROPS_KEPT = 16


class VerdictBanner(Retranslatable, QWidget):
    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Fixed)
        self.setFixedHeight(140)
        self.verdict: Verdict | None = None
        self.part_id = ""
        self.cycle_ms: float | None = None
        self.detail = ""  # e.g. the failing classes or the NOT_INSPECTED error code
        self.blocked: str | None = None  # why the station is not inspecting now (shown instead)
        # the background and the headline, one per verdict and state, not per part: glyphs this large are
        # drawn as antialiased paths, too dear to redo 30 times a second when PASS and FAIL alternate
        self._backdrops: dict[tuple[object, ...], QPixmap] = {}

    def set_result(self, verdict: Verdict, part_id: str, cycle_ms: float | None, detail: str) -> None:
        self.verdict, self.part_id, self.cycle_ms, self.detail = verdict, part_id, cycle_ms, detail
        self.update()

    def set_blocked(self, why: str | None) -> None:
        if why != self.blocked:
            self.blocked = why
            self.update()

    def verdict_text(self) -> str:
        return translate("VerdictBanner", VERDICT_TEXT[self.verdict]) if self.verdict else ""

    def retranslate(self) -> None:
        self.update()

    def paintEvent(self, _event: object) -> None:
        r = QRectF(self.rect())
        live = self.verdict is not None and self.blocked is None
        bg = COLOURS[self.verdict] if live and self.verdict else IDLE_COLOUR
        fg = QColor(TEXT_COLOURS[self.verdict]) if live and self.verdict else QColor("white")
        if self.blocked is not None:
            headline = self.blocked
        elif self.verdict is None:
            headline = translate("VerdictBanner", "WAITING")
        else:
            headline = self.verdict_text()
        key = (self.width(), self.height(), self.devicePixelRatioF(), bg, fg.name(), headline,
               self.font().key())
        backdrop = self._backdrops.get(key)
        if backdrop is None:
            if len(self._backdrops) >= BACKDROPS_KEPT:  # sizes or languages seen before
                self._backdrops.clear()
            backdrop = self._backdrops[key] = self._draw_backdrop(r, QColor(bg), fg, headline)
        p = QPainter(self)
        p.drawPixmap(0, 0, backdrop)
        if self.verdict is None:
            p.end()
            return
        p.setRenderHint(QPainter.RenderHint.Antialiasing)
        p.setPen(fg)
        small = QFont(self.font())
        small.setPixelSize(max(14, int(r.height() * 0.28)))
        small.setBold(True)
        tiny = QFont(small)
        tiny.setPixelSize(max(12, int(r.height() * 0.17)))
        right = r.adjusted(r.width() * 0.45, 4, -24, -4)
        lines = [translate("VerdictBanner", "Part {0}").format(self.part_id)]
        if self.cycle_ms is not None:
            lines.append(translate("VerdictBanner", "Cycle {0:.0f} ms").format(self.cycle_ms))
        note = self.detail
        if self.blocked is not None:
            note = translate("VerdictBanner", "Last: {0}").format(self.verdict_text())
        p.setFont(_fit(small, max(lines, key=len), right.width()))
        top = right.adjusted(0, 0, 0, -right.height() * 0.22)
        p.drawText(top, Qt.AlignmentFlag.AlignVCenter | Qt.AlignmentFlag.AlignRight, "\n".join(lines))
        if note:
            p.setFont(_fit(tiny, note, right.width()))
            bottom = right.adjusted(0, right.height() * 0.78, 0, 0)
            p.drawText(bottom, Qt.AlignmentFlag.AlignVCenter | Qt.AlignmentFlag.AlignRight, note)
        p.end()

    def _draw_backdrop(self, r: QRectF, bg: QColor, fg: QColor, headline: str) -> QPixmap:
        ratio = self.devicePixelRatioF()
        pm = QPixmap(max(1, round(r.width() * ratio)), max(1, round(r.height() * ratio)))
        pm.setDevicePixelRatio(ratio)
        pm.fill(bg)
        p = QPainter(pm)
        p.setRenderHint(QPainter.RenderHint.Antialiasing)
        big = QFont(self.font())
        big.setBold(True)
        big.setPixelSize(int(r.height() * 0.6))
        left = r.adjusted(24, 0, -r.width() * 0.5, 0)
        p.setPen(fg)
        p.setFont(_fit(big, headline, left.width()))
        p.drawText(left, Qt.AlignmentFlag.AlignVCenter | Qt.AlignmentFlag.AlignLeft, headline)
        p.end()
        return pm


def _fit(font: QFont, text: str, width: float) -> QFont:
    """Shrink ``font`` until ``text`` fits ``width`` (a long state text must not run into the details)."""
    f = QFont(font)
    while f.pixelSize() > 16 and QFontMetricsF(f).horizontalAdvance(text) > width:
        f.setPixelSize(int(f.pixelSize() * 0.9))
    return f
