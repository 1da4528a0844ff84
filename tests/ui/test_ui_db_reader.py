"""The window's DB reader: a reject whose image cannot be read yet shows once it can (a failed read is not
remembered as "no thumbnail" for the rest of the shift)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import cv2
import numpy as np

from ui.db_reader import DbReader


def test_a_thumbnail_unreadable_at_first_shows_once_its_file_is_there(tmp_path: Path, qtbot: Any) -> None:
    reader = DbReader(tmp_path / "results.db", tmp_path)
    try:
        rel = "images/2026-11-30/FAIL/0000000007_p7.jpg"
        reasons = [{"class_name": "short", "box": [8.0, 8.0, 40.0, 40.0]}]
        assert reader._thumb(7, rel, reasons, ("short",)) is None  # not written yet
        (tmp_path / rel).parent.mkdir(parents=True)
        assert cv2.imwrite(str(tmp_path / rel), np.full((128, 128, 3), 90, np.uint8))
        thumb = reader._thumb(7, rel, reasons, ("short",))
        assert thumb is not None and not thumb.isNull()
        assert reader._thumb(7, rel, reasons, ("short",)) is thumb  # a read that worked is kept
    finally:
        reader.close()
