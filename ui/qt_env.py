"""Keep opencv-python's bundled Qt settings away from PyQt6.

The opencv-python wheel ships a Qt build of its own and, on import, points ``QT_QPA_PLATFORM_PLUGIN_PATH``
and ``QT_QPA_FONTDIR`` into its package: PyQt6 would then load OpenCV's platform plugin (a different Qt,
which crashes or refuses to start) and see only OpenCV's fonts (no CJK glyphs for the Chinese UI).
"""

from __future__ import annotations

import os

_CV2_VARS = ("QT_QPA_PLATFORM_PLUGIN_PATH", "QT_QPA_FONTDIR")


def clean_qt_env() -> None:
    """Call before the QApplication is created. Imports cv2 first, so its import-time side effect has
    happened and cannot come back later; variables a user set to other places are kept."""
    import cv2  # noqa: F401  -- for its side effect on os.environ, undone below

    for var in _CV2_VARS:
        value = os.environ.get(var, "")
        if f"{os.sep}cv2{os.sep}" in value or value.endswith(f"{os.sep}cv2"):
            del os.environ[var]
