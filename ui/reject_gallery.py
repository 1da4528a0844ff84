"""Thumbnails of the last N rejects (from the DB and the image archive, decoded off the Qt thread);
a click opens the reject in the review view."""

from __future__ import annotations

import time
from typing import Any

from PyQt6.QtCore import QSize, Qt, pyqtSignal
from PyQt6.QtGui import QColor, QIcon, QPixmap
from PyQt6.QtWidgets import QListView, QListWidget, QListWidgetItem, QWidget

from ui.db_reader import THUMB_PX

ID_ROLE = Qt.ItemDataRole.UserRole


class RejectGallery(QListWidget):
    open_requested = pyqtSignal(int)  # inspection id

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setViewMode(QListView.ViewMode.IconMode)
        self.setIconSize(QSize(THUMB_PX, THUMB_PX))
        self.setResizeMode(QListView.ResizeMode.Adjust)
        self.setMovement(QListView.Movement.Static)
        self.setGridSize(QSize(THUMB_PX + 14, THUMB_PX + 26))  # one caption line, elided: rows stay even
        self.setWordWrap(False)
        self.setTextElideMode(Qt.TextElideMode.ElideRight)
        self.itemClicked.connect(lambda item: self.open_requested.emit(int(item.data(ID_ROLE))))
        self.ids: list[int] = []

    def set_items(self, items: list[dict[str, Any]]) -> None:
        ids = [it["id"] for it in items]
        if ids == self.ids:
            return
        self.ids = ids
        self.clear()
        for it in items:
            pix = QPixmap.fromImage(it["thumb"]) if it.get("thumb") is not None else _missing()
            when = time.strftime("%H:%M:%S", time.localtime(it["epoch"]))
            caption = f"{when} {', '.join(it['classes'])}"
            item = QListWidgetItem(QIcon(pix), caption)
            item.setData(ID_ROLE, it["id"])
            item.setToolTip(f"{it['part_id']}\n{caption}")
            self.addItem(item)


def _missing() -> QPixmap:
    pix = QPixmap(THUMB_PX, THUMB_PX)
    pix.fill(QColor("#555555"))
    return pix
