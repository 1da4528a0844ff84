"""The recipe editor's what-if preview: before an edit is applied, what it would have decided on the last
parts of that recipe, computed off the Qt thread, cancelled by the next edit, in English and Chinese."""

from __future__ import annotations

from typing import Any

from inspect_app.store.read import ResultsReader


def _editor_on_history(harness: Any, qtbot: Any, engineer_password: str) -> tuple[Any, Any]:
    h = harness(max_parts=9)  # board(True), board(False), board(False), looped: 3 FAIL of 9
    h.start()
    h.wait_results(9)
    w = h.window
    assert w.engineer_login("eve", engineer_password) is None
    editor = w.open_recipe_editor()
    assert editor is not None and editor.recipe_box.currentText() == "strict"
    return h, editor


def _settle(qtbot: Any, preview: Any) -> None:
    assert preview.wait()
    qtbot.waitUntil(lambda: not preview.busy(), timeout=10_000)


def test_preview_counts_flips_and_scores_them_against_reviews(
    harness: Any, qtbot: Any, engineer_password: str
) -> None:
    h, editor = _editor_on_history(harness, qtbot, engineer_password)
    preview = editor.preview
    _settle(qtbot, preview)  # the recipe as it is: nothing changes
    assert preview.report.n_flips == 0 and preview.report.selected == 9
    assert preview.text().startswith("On the last 9 parts: 0 flips")
    db = h.cfg.state_dir / "results.db"
    with ResultsReader(db) as r:
        fails = [rec.id for rec in r.recent(100) if rec.verdict == "FAIL"]
    h.station.review(fails[0], "false_reject", "q")
    h.station.review(fails[1], "confirmed_defect", "q").result(timeout=10)

    editor.min_conf.setValue(0.95)  # the scripted short has 0.9: every FAIL would PASS
    _settle(qtbot, preview)
    assert preview.report.flips == {"PASS->FAIL": 0, "FAIL->PASS": 3}
    assert "3 flips (0 PASS→FAIL, 3 FAIL→PASS), 1 false rejects fixed, 1 new escapes" in preview.text()
    assert h.station.config.recipes["strict"].min_conf == 0.5  # nothing was applied

    editor.min_conf.setValue(0.5)
    editor.roi_rect[0].setValue(100)  # the short's centre (20, 15) leaves the region
    _settle(qtbot, preview)
    assert preview.report.flips["FAIL->PASS"] == 3

    editor.roi_rect[0].setValue(5)
    editor.min_conf.setValue(0.3)  # below the live 0.5: stored detections cannot tell
    _settle(qtbot, preview)
    assert preview.report.replayed == 0 and "9 parts could not be judged" in preview.text()

    editor.table.item(0, 1).setText("lots")  # not a recipe: no preview, and why
    qtbot.waitUntil(lambda: "not a number" in preview.text(), timeout=5_000)
    assert not preview.busy()


def test_preview_runs_off_the_qt_thread_and_the_next_edit_cancels_it(
    harness: Any, qtbot: Any, engineer_password: str
) -> None:
    _, editor = _editor_on_history(harness, qtbot, engineer_password)
    preview = editor.preview
    _settle(qtbot, preview)
    seen: list[float] = []
    preview.finished.connect(lambda report: seen.append(report.candidate["recipe"]["min_conf"]))
    editor.min_conf.setValue(0.7)
    preview.wait()  # the replay ran to its end on the pool's thread...
    assert not seen  # ...and its answer waits for the Qt thread's event loop: it was not computed here
    editor.min_conf.setValue(0.95)  # a new edit before that answer was shown: the 0.7 one is dropped
    _settle(qtbot, preview)
    qtbot.waitUntil(lambda: bool(seen), timeout=10_000)
    assert seen == [0.95] and preview.report.candidate["recipe"]["min_conf"] == 0.95
    # edits in a burst: one replay, of the last one
    for v in (0.6, 0.65, 0.8):
        editor.min_conf.setValue(v)
    _settle(qtbot, preview)
    qtbot.waitUntil(lambda: len(seen) == 2, timeout=10_000)
    assert seen == [0.95, 0.8]


def test_preview_in_chinese(harness: Any, qtbot: Any, engineer_password: str) -> None:
    h, editor = _editor_on_history(harness, qtbot, engineer_password)
    h.translations.set_language("zh_CN")
    editor.table.item(3, 3).setText("1")  # short: one allowed, so each FAIL (one short) would PASS
    editor.table.itemChanged.emit(editor.table.item(3, 3))
    _settle(qtbot, editor.preview)
    assert editor.preview.report.flips["FAIL->PASS"] == 3
    text = editor.preview.text()
    assert "最近 9 个零件" in text and "3 次翻转" in text, text
    assert any("\u4e00" <= ch <= "\u9fff" for ch in editor.preview.toolTip())
    h.translations.set_language("en")
