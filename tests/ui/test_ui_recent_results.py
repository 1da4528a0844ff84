"""What the operator is looking at does not move: a selected result stays selected (by its inspection id)
while new results arrive, which wait behind an "N new" bar; reject thumbnails do not move under the
pointer. Results come from a real station through the real feed, DB reader and window."""

from __future__ import annotations

from typing import Any

from PyQt6.QtCore import QEvent, QPointF, Qt
from PyQt6.QtGui import QEnterEvent
from PyQt6.QtWidgets import QApplication


def _software(make_config: Any) -> Any:
    return make_config(trigger={"mode": "software", "queue_size": 200})


def _trigger(h: Any, prefix: str, n: int) -> None:
    seen = h.feed.results_seen
    for i in range(n):
        h.station.trigger(f"{prefix}{i:03d}")
    h.wait_results(seen + n)


def test_a_selected_result_stays_selected_while_50_new_results_arrive(
    harness: Any, make_config: Any, qtbot: Any
) -> None:
    h = harness(_software(make_config))
    h.start()
    w, table = h.window, h.window.table
    _trigger(h, "A", 3)
    w.tabs.setCurrentWidget(w.recent)  # picking the tab reads it from the DB
    qtbot.waitUntil(lambda: len(table.ids) == 3, timeout=10_000)
    table.selectRow(1)
    picked, part, before = table.ids[1], table.item(1, 1).text(), list(table.ids)
    assert part == "A001"

    _trigger(h, "B", 50)
    w.refresh()  # as the refresh timer does every second
    qtbot.waitUntil(lambda: table.waiting() == 50, timeout=10_000)
    assert table.selected_id() == picked and table.ids == before  # nothing moved
    assert table.item(1, 1).text() == "A001" and table.currentRow() == 1
    assert w.recent.new_button.isVisible() and w.recent.new_button.text() == "50 new — show them"

    qtbot.mouseClick(w.recent.new_button, Qt.MouseButton.LeftButton)  # the operator jumps to them
    assert len(table.ids) == 53 and table.item(0, 1).text() == "B049"
    assert table.selected_id() == picked and table.item(table.ids.index(picked), 1).text() == "A001"
    assert not w.recent.new_button.isVisible()

    table.clearSelection()  # let go: new results show as they come
    _trigger(h, "C", 1)
    w.refresh()
    qtbot.waitUntil(lambda: len(table.ids) == 54, timeout=10_000)
    assert table.item(0, 1).text() == "C000" and table.waiting() == 0


def test_the_selection_follows_the_part_through_a_language_switch(
    harness: Any, make_config: Any, qtbot: Any
) -> None:
    h = harness(_software(make_config))
    h.start()
    w, table = h.window, h.window.table
    _trigger(h, "A", 4)
    w.tabs.setCurrentWidget(w.recent)
    qtbot.waitUntil(lambda: len(table.ids) == 4, timeout=10_000)
    table.selectRow(2)
    picked = table.ids[2]
    w.set_language("zh_CN")  # the rows are written again in Chinese
    assert table.selected_id() == picked and table.item(2, 1).text() == "A001"


def test_reject_thumbnails_do_not_move_under_the_pointer(
    harness: Any, make_config: Any, qtbot: Any, part: Any
) -> None:
    h = harness(_software(make_config), script=[part(True)])  # every part a reject
    h.start()
    w, gallery = h.window, h.window.gallery
    _trigger(h, "A", 2)
    w.refresh()
    qtbot.waitUntil(lambda: len(gallery.ids) == 2, timeout=10_000)
    shown = list(gallery.ids)
    inside = QPointF(10, 10)
    QApplication.sendEvent(gallery, QEnterEvent(inside, inside, gallery.mapToGlobal(inside)))
    _trigger(h, "B", 3)
    w.refresh()
    qtbot.waitUntil(lambda: gallery.waiting() == 3, timeout=10_000)
    assert gallery.ids == shown  # the thumbnail under the pointer is the one it was
    QApplication.sendEvent(gallery, QEvent(QEvent.Type.Leave))  # the pointer goes
    assert len(gallery.ids) == 5 and gallery.ids[3:] == shown
