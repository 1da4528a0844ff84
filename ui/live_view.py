"""The live image: the newest inspected part with its boxes and the recipe's ROI, scaled to fit.

It is given a result at most ``display_fps`` times a second by the window's display timer (see feed.py);
the image is wrapped, not copied (the station's frames are never written to after capture), and drawn
once per paint, scaled by the painter.
"""

from __future__ import annotations

from collections.abc import Sequence

import cv2
import numpy as np
from PyQt6.QtCore import QEvent, QRectF, Qt
from PyQt6.QtGui import QColor, QFont, QImage, QPainter
from PyQt6.QtWidgets import QSizePolicy, QWidget

from inspect_app.config import PolygonROI, RectROI
from inspect_app.types import CommittedInspection
from ui.i18n import translate
from ui.overlay import Box, draw_inspection, fit_rect


def wrap_bgr(arr: np.ndarray) -> QImage:
    """A QImage over the array's memory (no copy): keep ``arr`` alive as long as the image."""
    arr = np.ascontiguousarray(arr)
    h, w = arr.shape[:2]
    fmt = QImage.Format.Format_BGR888 if arr.ndim == 3 else QImage.Format.Format_Grayscale8
    return QImage(arr.data, w, h, int(arr.strides[0]), fmt)


def boxes_of(result: CommittedInspection) -> list[Box]:
    insp = result.inspection
    failing = {r.box for r in insp.decision.reasons if r.box is not None}
    return [Box(d.class_name, d.confidence, d.box, d.box in failing) for d in insp.detections]


class LiveView(QWidget):
    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Expanding)
        self.setMinimumSize(320, 240)
        self.setAttribute(Qt.WidgetAttribute.WA_OpaquePaintEvent)  # we paint every pixel: no erase first
        self._array: np.ndarray | None = None
        self._image: QImage | None = None
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
                    roi: RectROI | PolygonROI | None) -> None:
        insp = result.inspection
        self._array = insp.image
        self._image = wrap_bgr(insp.image) if insp.image is not None else None
        self._boxes = boxes_of(result)
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
        p.fillRect(self.rect(), QColor("#111111"))
        if self._image is None:
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
        target = fit_rect(self._image.width(), self._image.height(), QRectF(self.rect()))
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
        p.drawImage(target.topLeft(), self._scaled)
        label_px = max(12, min(22, self.height() // 40))
        draw_inspection(p, None, target, self._boxes, self._names, self._roi, label_px=label_px,
                        scale=(target.width() / self._image.width(), target.height() / self._image.height()))
        p.end()
