"""The live image: the newest inspected part with its boxes and the recipe's ROI, scaled to fit.

It is given a result at most ``display_fps`` times a second by the window's display timer (see feed.py);
the frame is scaled once per shown part with OpenCV (GIL released) into an image the painter draws 1:1.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import cv2
import numpy as np
from PyQt6.QtCore import QEvent, QPoint, QRect, QRectF, Qt
from PyQt6.QtGui import QColor, QFont, QImage, QPainter
from PyQt6.QtWidgets import QSizePolicy, QWidget

from inspect_app.config import PolygonROI, RectROI
from inspect_app.types import CommittedInspection
from ui.i18n import translate
from ui.overlay import Box, draw_inspection, fit_rect


def boxes_of(result: CommittedInspection, shown: Mapping[str, str] | None = None) -> list[Box]:
    insp = result.inspection
    failing = {r.box for r in insp.decision.reasons if r.box is not None}
    shown = shown or {}
    return [Box(d.class_name, d.confidence, d.box, d.box in failing, shown.get(d.class_name))
            for d in insp.detections]


BACKGROUND = QColor("#111111")


class LiveView(QWidget):
    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Expanding)
        self.setMinimumSize(320, 240)
        self.setAttribute(Qt.WidgetAttribute.WA_OpaquePaintEvent)  # we paint every pixel: no erase first
        self._array: np.ndarray | None = None  # the frame shown; None: no image
        self._boxes: list[Box] = []
        self._names: Sequence[str] = ()
        self._roi: RectROI | PolygonROI | None = None
        self._note = ""
        self._scaled: QImage | None = None  # the frame resized to the widget, with the arrays it wraps
        self._scaled_array: np.ndarray | None = None
        self._scaled_key: tuple[int, tuple[int, int]] | None = None
        self.shown = 0  # results displayed (for tests and the benchmark)
        self.part_id: str | None = None

    def show_result(self, result: CommittedInspection, names: Sequence[str],
                    roi: RectROI | PolygonROI | None, shown: Mapping[str, str] | None = None) -> None:
        insp = result.inspection
        self._array = insp.image
        self._boxes = boxes_of(result, shown)
        self._names, self._roi = names, roi
        self.part_id = insp.part_id
        self._note = "" if insp.image is not None else (insp.decision.error_code or "")
        self.shown += 1
        self.update()

    def changeEvent(self, event: QEvent | None) -> None:
        if event is not None and event.type() == QEvent.Type.LanguageChange:
            self.update()
        super().changeEvent(event)

    def paintEvent(self, _event: object) -> None:
        p = QPainter(self)
        if self._array is None:
            p.fillRect(self.rect(), BACKGROUND)
            p.setPen(QColor("#BBBBBB"))
            f = QFont(self.font())
            f.setPixelSize(max(16, self.height() // 20))
            p.setFont(f)
            if not self.shown:
                text = translate("LiveView", "Waiting for the first part…")
            elif self._note:
                text = translate("LiveView", "No image ({0})").format(self._note)
            else:
                text = translate("LiveView", "No image")
            p.drawText(self.rect(), Qt.AlignmentFlag.AlignCenter, text)
            p.end()
            return
        fh, fw = self._array.shape[:2]
        target = fit_rect(fw, fh, QRectF(self.rect()))
        # scale with OpenCV (bilinear, GIL released) into a cached image drawn 1:1: a third of the cost
        # of a smooth-scaled drawImage, which ran on the Qt thread for every frame
        size = (max(1, round(target.width())), max(1, round(target.height())))
        if self._scaled is None or self._scaled_key != (self.shown, size):
            small = cv2.resize(self._array, size, interpolation=cv2.INTER_LINEAR)
            # BGRA bytes are Qt's native RGB32: drawn without a per-paint format conversion
            code = cv2.COLOR_BGR2BGRA if small.ndim == 3 else cv2.COLOR_GRAY2BGRA
            self._scaled_array = cv2.cvtColor(small, code)
            h, w = self._scaled_array.shape[:2]
            self._scaled = QImage(self._scaled_array.data, w, h, int(self._scaled_array.strides[0]),
                                  QImage.Format.Format_RGB32)
            self._scaled_key = (self.shown, size)
        # QPainter calls hold the GIL the pipeline's threads need: paint each pixel once, the image and
        # the bars beside it, rather than clearing the whole widget first
        x0, y0 = round(target.left()), round(target.top())
        w, h = self._scaled.width(), self._scaled.height()
        W, H = self.width(), self.height()
        for bar in (QRect(0, 0, W, y0), QRect(0, y0 + h, W, H - y0 - h),
                    QRect(0, y0, x0, h), QRect(x0 + w, y0, W - x0 - w, h)):
            if bar.width() > 0 and bar.height() > 0:
                p.fillRect(bar, BACKGROUND)
        p.drawImage(QPoint(x0, y0), self._scaled)
        target = QRectF(x0, y0, w, h)
        label_px = max(12, min(22, self.height() // 40))
        draw_inspection(p, None, target, self._boxes, self._names, self._roi, label_px=label_px,
                        scale=(w / fw, h / fh))
        p.end()
