"""Every label of the counters, the charts and the status lights shows its whole text, on a 1366x768 and
a 1920x1080 screen, in English and Chinese, with 0, 1,061 and 1,234,567 parts counted; and the window
never needs more than a 1366x768 screen."""

from __future__ import annotations

from typing import Any

import pytest
from PyQt6.QtGui import QFontMetricsF
from PyQt6.QtWidgets import QApplication, QLabel

from ui.charts import label_font
from ui.fit_label import FitLabel, fits

SIZES = [(1366, 768), (1920, 1080)]
COUNTS = [0, 1_061, 1_234_567]


def _counts(n: int) -> dict[str, float]:
    fails = n // 3
    return {"total": n, "pass": n - fails - n // 100, "fail": fails, "not_inspected": n // 100,
            "yield_pct": 100.0 * (n - fails - n // 100) / max(1, n - n // 100)}


def _labels(w: Any) -> list[QLabel]:
    areas = (w.counters, w.lights, w.trend, w.defects)
    return [lab for area in areas for lab in area.findChildren(QLabel) if lab.isVisible() and lab.text()]


def _settle(qtbot: Any) -> None:
    for _ in range(3):  # a relayout may resize labels, which refit their fonts, which relayouts
        QApplication.processEvents()
        qtbot.wait(20)


@pytest.fixture
def window(harness: Any) -> Any:
    h = harness()
    h.start()  # the lights then carry a running station's texts (model, camera, recipe)
    h.wait_results(3)
    h.window.refresh()
    qtbot = h.qtbot
    qtbot.waitUntil(lambda: any(k == "db" and lvl == "ok" for k, lvl, _ in h.window.lights.items),
                    timeout=10_000)
    return h


@pytest.mark.parametrize("lang", ["en", "zh_CN"])
@pytest.mark.parametrize("size", SIZES, ids=lambda s: f"{s[0]}x{s[1]}")
def test_every_label_fits_its_rectangle(window: Any, qtbot: Any, size: tuple[int, int], lang: str) -> None:
    w = window.window
    w.set_language(lang)
    w.resize(*size)
    for n in COUNTS:
        w.display_timer.stop()  # the test sets the counters; the timer would put the station's back
        w.counters.set_counts(_counts(n))
        classes = ("scratch", "pit", "open", "short")
        w.defects.set_counts({"scratch": n // 2, "short": n // 3, "pit": n}, classes, w.shown_names())
        w.trend.set_values([12.0, 3_456.0 if n else 40.0, 38.0] * 200)
        _settle(qtbot)
        assert w.size().width() == size[0] and w.size().height() == size[1]
        clipped = [(lab.text(), lab.contentsRect().width()) for lab in _labels(w) if not fits(lab)]
        assert clipped == [], f"{n} parts: {clipped}"
        shown = w.counters.values["total"].text()
        assert shown.replace(",", "") == str(n)  # grouped digits, none cut or elided
        for chart in (w.trend, w.defects):
            p = chart.plot
            fm = QFontMetricsF(label_font(p.font()))
            for text, box in chart.text_boxes():
                assert fm.horizontalAdvance(text) <= box.width(), (text, box.width())
                assert box.left() >= 0 and box.right() <= p.width(), (text, box)
        w.display_timer.start()


@pytest.mark.parametrize("lang", ["en", "zh_CN"])
def test_the_window_fits_a_1366x768_screen(window: Any, qtbot: Any, lang: str) -> None:
    w = window.window
    w.set_language(lang)
    # a 1366x768 screen less a 40-pixel task bar and the window's title bar (about 30 pixels)
    w.resize(1366, 768 - 40 - 30)
    _settle(qtbot)
    assert (w.width(), w.height()) == (1366, 698)  # the layout did not need more
    assert [lab.text() for lab in _labels(w) if not fits(lab)] == []
    assert w.live.height() >= 240  # the image keeps its room
    assert w.tabs.height() >= w.gallery.row_height()  # a whole row of reject thumbnails shows
    assert w.banner.height() == 96 and w.counters.values["total"].font().pixelSize() <= 32


def test_initial_size_and_banner_follow_the_screen() -> None:
    from PyQt6.QtCore import QSize

    from ui.screen_fit import banner_height, initial_size

    assert initial_size(QSize(1366, 728)) == QSize(1366, 728)
    assert initial_size(QSize(2560, 1400)) == QSize(1600, 1000)
    assert banner_height(698) == 96 and banner_height(1010) == 140 and banner_height(2100) == 140


def test_fits_sees_a_clipped_label_and_a_fit_label_shrinks_instead(qtbot: Any) -> None:
    plain, fitted = QLabel("1,234,567"), FitLabel("1,234,567", px=38, min_px=10, bold=True)
    for label in (plain, fitted):
        qtbot.addWidget(label)
        label.setFixedWidth(120)
        label.show()
    font = plain.font()
    font.setPixelSize(38)
    plain.setFont(font)
    assert not fits(plain)
    assert fits(fitted) and 10 <= fitted.font().pixelSize() < 38
    fitted.setFixedWidth(400)
    assert fits(fitted) and fitted.font().pixelSize() == 38  # back to full size when there is room
    small = FitLabel("1,234,567", px=38, min_px=18)
    font = small.font()
    font.setPixelSize(18)
    assert small.minimumSizeHint().width() >= QFontMetricsF(font).horizontalAdvance("1,234,567")  # the floor
