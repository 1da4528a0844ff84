"""The window's size and what scales with it: never larger than the screen's free area (a 1366x768 laptop
beside the line included); on a short window the verdict banner, the counters' digits and the reject
thumbnails get smaller, so the live image keeps its room and nothing is cut."""

from __future__ import annotations

from PyQt6.QtCore import QSize

PREFERRED = QSize(1600, 1000)
SHORT, TALL = 700, 1000  # window heights: a 1366x768 screen's free area, and a 1080-pixel screen's


def initial_size(available: QSize) -> QSize:
    return QSize(min(PREFERRED.width(), available.width()), min(PREFERRED.height(), available.height()))


def banner_height(window_height: int) -> int:
    """140 px in a window 1000 px tall or more, 96 px at 700 px and less, in proportion in between."""
    frac = (window_height - SHORT) / (TALL - SHORT)
    return round(96 + (140 - 96) * min(1.0, max(0.0, frac)))


def counter_px(window_height: int) -> int:
    """The counters' digits: 38 px (read from two metres) in a window 900 px tall or more, 32 px below."""
    return 38 if window_height >= 900 else 32


def thumb_px(window_height: int) -> int:
    """Reject thumbnails: 140 px in a window 900 px tall or more, 96 px below (a whole row still shows)."""
    return 140 if window_height >= 900 else 96
