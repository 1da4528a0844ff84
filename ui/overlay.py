"""Drawing an inspected image with its detections and ROI, shared by the live view and the reject view.

One colour per class, fixed by the class's index in the model's class list (the same class has the same
colour in every view and every shift). Boxes that made the part fail are drawn solid and thick; detections
the recipe did not count (below its thresholds, outside the ROI) thin and dashed, so the operator sees what
the model saw and what the rules made of it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from PyQt6.QtCore import QPointF, QRectF, Qt
from PyQt6.QtGui import QColor, QFont, QFontMetricsF, QImage, QPainter, QPen, QPolygonF

from inspect_app.config import PolygonROI, RectROI

# Okabe-Ito-like, distinguishable for most colour-blind viewers and on grey PCB images
PALETTE = ("#E69F00", "#56B4E9", "#CC79A7", "#F0E442", "#0072B2", "#D55E00", "#009E73", "#FFFFFF")
ROI_COLOUR = QColor("#00E5FF")


def class_colour(name: str, names: Sequence[str]) -> QColor:
    idx = list(names).index(name) if name in names else sum(map(ord, name))
    return QColor(PALETTE[idx % len(PALETTE)])


@dataclass(frozen=True, slots=True)
class Box:
    class_name: str
    confidence: float | None
    xyxy: tuple[float, float, float, float]
    counted: bool = True  # made the part fail
    label: str | None = None  # the class as shown (a display name); None: the class name


def fit_rect(img_w: int, img_h: int, area: QRectF) -> QRectF:
    """The largest rectangle of the image's aspect ratio centred in ``area``."""
    if img_w <= 0 or img_h <= 0:
        return QRectF(area)
    scale = min(area.width() / img_w, area.height() / img_h)
    w, h = img_w * scale, img_h * scale
    return QRectF(area.x() + (area.width() - w) / 2, area.y() + (area.height() - h) / 2, w, h)


def draw_inspection(p: QPainter, image: QImage | None, target: QRectF, boxes: Sequence[Box],
                    names: Sequence[str], roi: RectROI | PolygonROI | None = None,
                    selected: int | None = None, label_px: int = 14,
                    scale: tuple[float, float] | None = None) -> None:
    """Draw ``image`` scaled into ``target`` (already aspect-fitted) with the ROI and boxes on top; with
    ``image`` None (drawn already by the caller) ``scale`` maps image pixels to ``target``."""
    sx, sy = scale or (1.0, 1.0)
    if image is not None and not image.isNull():
        p.setRenderHint(QPainter.RenderHint.SmoothPixmapTransform)
        p.drawImage(target, image)
        sx, sy = target.width() / image.width(), target.height() / image.height()
    ox, oy = target.x(), target.y()

    def pt(x: float, y: float) -> QPointF:
        return QPointF(ox + x * sx, oy + y * sy)

    if roi is not None:
        pen = QPen(ROI_COLOUR, 2, Qt.PenStyle.DashLine)
        p.setPen(pen)
        p.setBrush(Qt.BrushStyle.NoBrush)
        if isinstance(roi, RectROI):
            x1, y1, x2, y2 = roi.xyxy
            p.drawRect(QRectF(pt(x1, y1), pt(x2, y2)))
        else:
            p.drawPolygon(QPolygonF([pt(x, y) for x, y in roi.points]))
    font = QFont(p.font())
    font.setPixelSize(label_px)
    font.setBold(True)
    p.setFont(font)
    fm = QFontMetricsF(font)
    for i, b in enumerate(boxes):
        colour = class_colour(b.class_name, names)
        width = 3 if b.counted else 1.5
        if i == selected:
            width += 3
        pen = QPen(colour, width, Qt.PenStyle.SolidLine if b.counted else Qt.PenStyle.DashLine)
        p.setPen(pen)
        p.setBrush(Qt.BrushStyle.NoBrush)
        rect = QRectF(pt(*b.xyxy[:2]), pt(*b.xyxy[2:]))
        p.drawRect(rect)
        name = b.label or b.class_name
        text = name if b.confidence is None else f"{name} {b.confidence:.2f}"
        tw, th = fm.horizontalAdvance(text) + 6, fm.height() + 2
        top = rect.top() - th if rect.top() - th >= target.top() else rect.bottom()
        label = QRectF(rect.left(), top, tw, th)
        p.fillRect(label, colour)
        p.setPen(QColor("black") if colour.lightness() > 110 else QColor("white"))
        p.drawText(label, Qt.AlignmentFlag.AlignCenter, text)
