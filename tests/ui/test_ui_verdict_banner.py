"""The banner caches its backdrop (colour + headline): what it shows must still follow every change."""

from __future__ import annotations

from typing import Any

from PyQt6.QtGui import QColor, QImage

from inspect_app.types import Verdict
from ui.verdict_banner import COLOURS, IDLE_COLOUR, VerdictBanner


def _shot(banner: VerdictBanner) -> QImage:
    return banner.grab().toImage()


def test_banner_repaints_colour_headline_and_part_id(qtbot: Any) -> None:
    b = VerdictBanner()
    qtbot.addWidget(b)
    b.resize(900, 140)
    b.set_result(Verdict.PASS, "P-1", 12.0, "")
    pass_img = _shot(b)
    assert pass_img.pixelColor(3, 3) == QColor(COLOURS[Verdict.PASS])

    b.set_result(Verdict.PASS, "P-2", 12.0, "")  # same backdrop, new part id: the right half changes
    next_img = _shot(b)
    right = [(x, y) for x in range(450, 890, 3) for y in range(10, 130, 3)]
    left = [(x, y) for x in range(10, 440, 3) for y in range(10, 130, 3)]
    assert any(pass_img.pixel(x, y) != next_img.pixel(x, y) for x, y in right)
    assert all(pass_img.pixel(x, y) == next_img.pixel(x, y) for x, y in left)

    b.set_result(Verdict.FAIL, "P-3", 12.0, "short")
    fail_img = _shot(b)
    assert fail_img.pixelColor(3, 3) == QColor(COLOURS[Verdict.FAIL])

    b.set_blocked("STOPPED")  # not a red FAIL while the line is stopped
    assert _shot(b).pixelColor(3, 3) == QColor(IDLE_COLOUR)
    b.set_blocked(None)
    assert _shot(b).pixelColor(3, 3) == QColor(COLOURS[Verdict.FAIL])

    b.resize(600, 140)  # a new size renders a new backdrop, filled edge to edge
    img = _shot(b)
    assert img.width() == 600 and img.pixelColor(597, 3) == QColor(COLOURS[Verdict.FAIL])
