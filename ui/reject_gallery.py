"""Thumbnails of the last N rejects (from the DB and the image archive, decoded off the Qt thread);
a click opens the reject in the review view.

Thumbnails never move under the pointer: while it is over the gallery (about to click one), new rejects
wait, and are laid out when it leaves. A click always opens the part that was under it."""

from __future__ import annotations

import time
from collections.abc import Mapping
from typing import Any

from PyQt6.QtCore import QEvent, QSize, Qt, pyqtSignal
from PyQt6.QtGui import QColor, QIcon, QPixmap
from PyQt6.QtWidgets import QListView, QListWidget, QListWidgetItem, QWidget

from ui.class_names import shown_list
from ui.db_reader import THUMB_PX

ID_ROLE = Qt.ItemDataRole.UserRole


class RejectGallery(QListWidget):
    open_requested = pyqtSignal(int)  # inspection id

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setViewMode(QListView.ViewMode.IconMode)
        self.setResizeMode(QListView.ResizeMode.Adjust)
        self.setMovement(QListView.Movement.Static)
        self.set_thumb_px(THUMB_PX)
        self.setWordWrap(False)
        self.setTextElideMode(Qt.TextElideMode.ElideRight)
        self.itemClicked.connect(lambda item: self.open_requested.emit(int(item.data(ID_ROLE))))
        self.ids: list[int] = []
        self.names: Mapping[str, str] = {}  # class -> display name
        self._items: list[dict[str, Any]] = []
        self._waiting: list[dict[str, Any]] | None = None
        self._pointer_inside = False

    def set_thumb_px(self, px: int) -> None:
        """Thumbnails shown ``px`` wide (decoded at THUMB_PX; smaller on a small screen)."""
        if self.iconSize() == QSize(px, px):
            return  # a resize of the window that changes nothing here: no relayout
        self.setIconSize(QSize(px, px))
        self.setGridSize(QSize(px + 14, px + 26))  # one caption line, elided: rows stay even

    def row_height(self) -> int:
        """The height that shows one whole row of thumbnails with their captions."""
        return self.gridSize().height() + 2 * self.frameWidth() + 4

    def enterEvent(self, event: QEvent | None) -> None:
        self._pointer_inside = True
        super().enterEvent(event)

    def leaveEvent(self, event: QEvent | None) -> None:
        self._pointer_inside = False
        super().leaveEvent(event)
        if self._waiting is not None:
            self.set_items(self._waiting)

    def waiting(self) -> int:
        """How many of the rejects waiting (while the pointer is over the gallery) are new."""
        return len({it["id"] for it in self._waiting or []} - set(self.ids))

    def set_names(self, names: Mapping[str, str]) -> None:
        if dict(names) != dict(self.names):
            self.names = dict(names)
            self._show(self._items)

    def set_items(self, items: list[dict[str, Any]]) -> None:
        if [it["id"] for it in items] == self.ids:
            self._waiting = None
            return
        if self._pointer_inside:
            self._waiting = items
            return
        self._show(items)

    def _show(self, items: list[dict[str, Any]]) -> None:
        self._waiting = None
        self._items = items
        self.ids = [it["id"] for it in items]
        self.clear()
        for it in items:
            pix = QPixmap.fromImage(it["thumb"]) if it.get("thumb") is not None else _missing()
            when = time.strftime("%H:%M:%S", time.localtime(it["epoch"]))
            caption = f"{when} {shown_list(it['classes'], self.names)}"
            item = QListWidgetItem(QIcon(pix), caption)
            item.setData(ID_ROLE, it["id"])
            item.setToolTip(f"{it['part_id']}\n{caption}")
            self.addItem(item)


def _missing() -> QPixmap:
    pix = QPixmap(THUMB_PX, THUMB_PX)
    pix.fill(QColor("#555555"))
    return pix
