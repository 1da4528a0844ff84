"""One result in full: the saved image with its boxes and ROI, the reasons, earlier reviews, and the review
buttons (confirmed defect / false reject / missed defect, the last with a box drawn on the image).

The dialog only collects the judgement and emits ``review_requested``; the window sends it to the station
(which writes it through the store's writer thread) and tells the dialog when it is saved.
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from typing import Any

from PyQt6.QtCore import QPointF, QRectF, Qt, pyqtSignal
from PyQt6.QtGui import QColor, QImage, QMouseEvent, QPainter, QPen
from PyQt6.QtWidgets import (
    QComboBox,
    QDialog,
    QGridLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QListWidget,
    QPushButton,
    QSizePolicy,
    QVBoxLayout,
    QWidget,
)

from inspect_app.config import PolygonROI, RectROI
from inspect_app.types import Verdict
from ui.class_names import shown
from ui.i18n import QT_TRANSLATE_NOOP, Retranslatable, translate
from ui.overlay import Box, draw_inspection, fit_rect
from ui.reason_text import reason_text
from ui.verdict_banner import COLOURS, TEXT_COLOURS, VERDICT_TEXT

KINDS = {
    "confirmed_defect": QT_TRANSLATE_NOOP("RejectView", "Confirmed defect"),
    "false_reject": QT_TRANSLATE_NOOP("RejectView", "False reject"),
    "missed_defect": QT_TRANSLATE_NOOP("RejectView", "Missed defect"),
}


class ImageCanvas(QWidget):
    """Click a box to select it; drag to draw a new one (image pixel coordinates)."""

    changed = pyqtSignal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setMinimumSize(480, 400)
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Expanding)
        self.image: QImage | None = None
        self.boxes: list[Box] = []
        self.names: Sequence[str] = ()
        self.roi: RectROI | PolygonROI | None = None
        self.selected: int | None = None
        self.drawn: tuple[float, float, float, float] | None = None
        self.note = ""
        self._press: QPointF | None = None

    def set_content(self, image: QImage | None, boxes: list[Box], names: Sequence[str],
                    roi: RectROI | PolygonROI | None, note: str) -> None:
        self.image, self.boxes, self.names, self.roi, self.note = image, boxes, names, roi, note
        self.selected, self.drawn = None, None
        self.update()

    def _target(self) -> QRectF:
        if self.image is None:
            return QRectF(self.rect())
        return fit_rect(self.image.width(), self.image.height(), QRectF(self.rect()))

    def to_image(self, pos: QPointF) -> QPointF:
        t = self._target()
        assert self.image is not None
        x = (pos.x() - t.x()) * self.image.width() / t.width()
        y = (pos.y() - t.y()) * self.image.height() / t.height()
        return QPointF(min(max(x, 0.0), self.image.width()), min(max(y, 0.0), self.image.height()))

    def mousePressEvent(self, e: QMouseEvent | None) -> None:
        if e is not None and self.image is not None:
            self._press = self.to_image(e.position())

    def mouseReleaseEvent(self, e: QMouseEvent | None) -> None:
        if e is None or self._press is None or self.image is None:
            return
        a, b = self._press, self.to_image(e.position())
        self._press = None
        if abs(a.x() - b.x()) >= 4 and abs(a.y() - b.y()) >= 4:
            self.drawn = (min(a.x(), b.x()), min(a.y(), b.y()), max(a.x(), b.x()), max(a.y(), b.y()))
        else:
            hits = [i for i, bx in enumerate(self.boxes)
                    if bx.xyxy[0] <= a.x() <= bx.xyxy[2] and bx.xyxy[1] <= a.y() <= bx.xyxy[3]]
            self.selected = hits[0] if hits else None
        self.update()
        self.changed.emit()

    def paintEvent(self, _event: object) -> None:
        p = QPainter(self)
        p.fillRect(self.rect(), QColor("#111111"))
        t = self._target()
        if self.image is None:
            p.setPen(QColor("#BBBBBB"))
            p.drawText(self.rect(), Qt.AlignmentFlag.AlignCenter, self.note)
        draw_inspection(p, self.image, t, self.boxes, self.names, self.roi, self.selected, label_px=16)
        if self.drawn is not None and self.image is not None:
            s = t.width() / self.image.width()
            x1, y1, x2, y2 = self.drawn
            p.setPen(QPen(QColor("#FFFFFF"), 3, Qt.PenStyle.DashDotLine))
            p.drawRect(QRectF(t.x() + x1 * s, t.y() + y1 * s, (x2 - x1) * s, (y2 - y1) * s))
        p.end()


class RejectView(Retranslatable, QDialog):
    review_requested = pyqtSignal(int, str, object, object, str)  # id, kind, class_name, box, note

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.resize(1200, 760)
        self.setStyleSheet("QPushButton { font-size: 16px; } QListWidget { font-size: 14px; }")
        self.inspection_id: int | None = None
        self.detail: dict[str, Any] = {}
        self.shown_as: dict[str, str] = {}
        self.canvas = ImageCanvas()
        self.canvas.changed.connect(self._update_hint)
        self.header = QLabel()
        self.header.setStyleSheet("font-size: 22px; font-weight: bold; padding: 6px;")
        self.header.setWordWrap(True)
        self.info = QLabel()
        self.info.setStyleSheet("font-size: 15px;")
        self.info.setWordWrap(True)
        self.info.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.reasons_title, self.reviews_title = QLabel(), QLabel()
        self.reasons, self.reviews = QListWidget(), QListWidget()
        self.hint = QLabel()
        self.hint.setWordWrap(True)
        self.class_label = QLabel()
        self.class_box = QComboBox()
        self.note_label = QLabel()
        self.note = QLineEdit()
        self.buttons = {k: QPushButton() for k in KINDS}
        for kind, button in self.buttons.items():
            button.setMinimumHeight(44)
            button.clicked.connect(lambda _=False, k=kind: self.submit(k))
        self.status = QLabel()
        self.close_button = QPushButton()
        self.close_button.clicked.connect(self.close)

        side = QVBoxLayout()
        side.addWidget(self.header)
        side.addWidget(self.info)
        side.addWidget(self.reasons_title)
        side.addWidget(self.reasons, 2)
        side.addWidget(self.reviews_title)
        side.addWidget(self.reviews, 1)
        form = QGridLayout()
        form.addWidget(self.class_label, 0, 0)
        form.addWidget(self.class_box, 0, 1)
        form.addWidget(self.note_label, 1, 0)
        form.addWidget(self.note, 1, 1)
        side.addLayout(form)
        side.addWidget(self.hint)
        for button in self.buttons.values():
            side.addWidget(button)
        side.addWidget(self.status)
        side.addWidget(self.close_button)
        panel = QWidget()
        panel.setLayout(side)
        panel.setFixedWidth(400)
        row = QHBoxLayout(self)
        row.addWidget(self.canvas, 1)
        row.addWidget(panel)
        self.retranslate()

    # ---------------------------------------------------------------- content
    def load(self, detail: dict[str, Any], names: Sequence[str], roi: RectROI | PolygonROI | None,
             shown_as: Mapping[str, str] | None = None) -> None:
        """``shown_as``: class -> the name the operator reads (the recipe's display_names); the review still
        records the model's class name."""
        self.detail = detail
        self.shown_as = dict(shown_as or {})
        row = detail["row"]
        self.inspection_id = int(row["id"])
        failing = {tuple(r["box"]) for r in detail["reasons"] if r.get("box")}
        boxes = [Box(d["class_name"], d["confidence"], (d["x1"], d["y1"], d["x2"], d["y2"]),
                     tuple(round(v, 1) for v in (d["x1"], d["y1"], d["x2"], d["y2"])) in failing,
                     label=self.shown_as.get(d["class_name"]))
                 for d in detail["detections"]]
        note = translate("RejectView", "Image {0}").format(detail.get("image_note") or "")
        self.canvas.set_content(detail.get("image"), boxes, names, roi, note)
        current = self.class_box.currentData()
        self.class_box.clear()
        for name in names:
            self.class_box.addItem(shown(name, self.shown_as), name)
        if current in names:
            self.class_box.setCurrentIndex(list(names).index(current))
        self.status.clear()
        self.note.clear()
        self.retranslate()

    def show_reviews(self, reviews: list[dict[str, Any]]) -> None:
        self.detail["reviews"] = reviews
        self._fill_reviews()

    def _fill_reviews(self) -> None:
        self.reviews.clear()
        for r in self.detail.get("reviews", []):
            when = time.strftime("%m-%d %H:%M", time.localtime(r["epoch"]))
            what = translate("RejectView", KINDS.get(r["kind"], r["kind"]))
            cls = f" {shown(r['class_name'], self.shown_as)}" if r.get("class_name") else ""
            note = f" — {r['note']}" if r.get("note") else ""
            self.reviews.addItem(f"{when} {r['who']}: {what}{cls}{note}")

    def retranslate(self) -> None:
        self.setWindowTitle(translate("RejectView", "Review result"))
        for kind, button in self.buttons.items():
            button.setText(translate("RejectView", KINDS[kind]))
        self.class_label.setText(translate("RejectView", "Class"))
        self.note_label.setText(translate("RejectView", "Note"))
        self.reasons_title.setText(translate("RejectView", "Reasons"))
        self.reviews_title.setText(translate("RejectView", "Reviews"))
        self.close_button.setText(translate("RejectView", "Close"))
        self._update_hint()
        if not self.detail:
            return
        row = self.detail["row"]
        verdict = Verdict(row["verdict"])
        self.header.setText(translate("RejectView", "{0}\npart {1}").format(
            translate("VerdictBanner", VERDICT_TEXT[verdict]), row["part_id"]))
        self.header.setStyleSheet(f"font-size: 22px; font-weight: bold; padding: 6px; "
                                  f"background: {COLOURS[verdict]}; color: {TEXT_COLOURS[verdict]};")
        when = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(row["epoch"]))
        cycle = row.get("t_total_ms")
        self.info.setText("\n".join([
            translate("RejectView", "Time: {0}").format(when),
            translate("RejectView", "Recipe: {0}").format(row.get("recipe") or "-"),
            translate("RejectView", "Model: {0}").format(row.get("model_id") or "-"),
            translate("RejectView", "Cycle: {0} ms").format("-" if cycle is None else f"{cycle:.0f}"),
            translate("RejectView", "Record #{0}").format(row["id"]),
        ]))
        self.reasons.clear()
        for r in self.detail["reasons"]:
            self.reasons.addItem(reason_text(r, self.shown_as))
        if not self.detail["reasons"]:
            self.reasons.addItem(translate("RejectView", "(no reasons: the part passed)"))
        self._fill_reviews()

    def _update_hint(self) -> None:
        c = self.canvas
        if c.drawn is not None:
            text = translate("RejectView", "Box drawn: choose its class, then press “Missed defect”.")
        elif c.selected is not None:
            text = translate("RejectView", "Selected: {0}. The buttons judge this detection only.").format(
                shown(c.boxes[c.selected].class_name, self.shown_as))
        else:
            text = translate("RejectView", "Click a box to judge one detection (else the whole part); "
                                           "drag on the image to draw a defect the model missed.")
        self.hint.setText(text)
        self.buttons["missed_defect"].setEnabled(c.drawn is not None)

    # ---------------------------------------------------------------- review
    def submit(self, kind: str) -> None:
        if self.inspection_id is None:
            return
        c = self.canvas
        if kind == "missed_defect":
            if c.drawn is None:
                return
            cls, box = self.class_box.currentData(), c.drawn
        elif c.selected is not None:
            cls, box = c.boxes[c.selected].class_name, c.boxes[c.selected].xyxy
        else:
            cls, box = None, None
        self.status.setText(translate("RejectView", "Saving…"))
        self.review_requested.emit(self.inspection_id, kind, cls, box, self.note.text())

    def saved(self, ok: bool, message: str = "") -> None:
        if ok:
            self.status.setText(translate("RejectView", "Saved."))
            self.canvas.drawn = None
            self.canvas.update()
            self._update_hint()
        else:
            self.status.setText(translate("RejectView", "Not saved: {0}").format(message))
