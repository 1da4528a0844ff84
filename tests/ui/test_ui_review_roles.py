"""Reject review from the gallery, engineer mode with its audit trail, recipe edits, and the language."""

from __future__ import annotations

from typing import Any

from PyQt6.QtCore import QPoint, QRectF, Qt

from ui.overlay import fit_rect


def image_point(view: Any, x: float, y: float) -> QPoint:
    """Widget position of image pixel (x, y) in the reject view's canvas."""
    c = view.canvas
    t = fit_rect(c.image.width(), c.image.height(), QRectF(c.rect()))
    s = t.width() / c.image.width()
    return QPoint(int(t.x() + x * s), int(t.y() + y * s))


def test_reject_from_gallery_opens_with_boxes_and_reviews_are_saved(
    harness: Any, qtbot: Any, rows: Any
) -> None:
    h = harness(max_parts=9)
    h.start()
    h.wait_results(9)
    w = h.window
    w.refresh()
    qtbot.waitUntil(lambda: w.gallery.count() == 3, timeout=10_000)  # the 3 FAILs of 9 parts
    first = w.gallery.item(0)
    rect = w.gallery.visualItemRect(first)
    qtbot.mouseClick(w.gallery.viewport(), Qt.MouseButton.LeftButton, pos=rect.center())
    view = w._reject_view
    qtbot.waitUntil(lambda: view is not None and view.isVisible() and view.canvas.image is not None,
                    timeout=10_000)
    newest_fail = rows(h.cfg, "select * from inspections where verdict = 'FAIL' order by id desc")[0]
    assert view.inspection_id == newest_fail["id"]
    assert newest_fail["part_id"] in view.header.text() and "FAIL" in view.header.text()
    assert [b.class_name for b in view.canvas.boxes] == ["short"] and view.canvas.boxes[0].counted
    assert view.reasons.item(0).text().startswith("short at (10,10)-(30,20)")
    assert (view.canvas.image.width(), view.canvas.image.height()) == (320, 240)

    # click the detection, then "false reject": a review of that detection
    qtbot.mouseClick(view.canvas, Qt.MouseButton.LeftButton, pos=image_point(view, 20, 15))
    assert view.canvas.selected == 0
    view.note.setText("glare on the pad")
    view.buttons["false_reject"].click()
    qtbot.waitUntil(lambda: view.status.text() == "Saved.", timeout=10_000)
    # drag a box where the model saw nothing, pick its class: a missed defect
    assert not view.buttons["missed_defect"].isEnabled()
    qtbot.mousePress(view.canvas, Qt.MouseButton.LeftButton, pos=image_point(view, 100, 100))
    qtbot.mouseRelease(view.canvas, Qt.MouseButton.LeftButton, pos=image_point(view, 160, 140))
    view.class_box.setCurrentText("pit")
    view.buttons["missed_defect"].click()
    qtbot.waitUntil(lambda: view.reviews.count() == 2, timeout=10_000)
    saved = rows(h.cfg, "select * from reviews order by id")
    assert [(r["kind"], r["class_name"], r["inspection_id"]) for r in saved] == [
        ("false_reject", "short", newest_fail["id"]), ("missed_defect", "pit", newest_fail["id"])]
    assert (saved[0]["x1"], saved[0]["y2"], saved[0]["note"]) == (10.0, 20.0, "glare on the pad")
    assert abs(saved[1]["x1"] - 100) < 3 and abs(saved[1]["y2"] - 140) < 3  # drawn box, in image pixels
    assert saved[0]["who"] == "operator"  # operators review too


def test_recipe_switch_refused_as_operator_allowed_as_engineer_and_audited(
    harness: Any, qtbot: Any, rows: Any, engineer_password: str
) -> None:
    h = harness()
    h.start()
    w = h.window
    assert not w.select_recipe("lenient")
    assert h.station.recipe == "strict" and w.recipe_box.currentText() == "strict"
    assert "engineer mode" in w.message.text()
    assert w.open_recipe_editor() is None
    assert w.engineer_login("eve", "wrong") == "Wrong password."
    assert not w.roles.is_engineer
    assert w.engineer_login("eve", engineer_password) is None
    assert w.role_label.text() == "Engineer: eve"
    assert w.select_recipe("lenient")
    assert h.station.recipe == "lenient"
    h.wait_results(h.feed.results_seen + 3)
    assert rows(h.cfg, "select recipe from inspections order by id desc limit 1")[0]["recipe"] == "lenient"
    w.engineer_logout()
    audit = w.open_audit_view()
    qtbot.waitUntil(lambda: len(audit.rows) == 5, timeout=10_000)
    got = [(r["who"], r["role"], r["action"], r["old"], r["new"]) for r in reversed(audit.rows)]
    assert got == [
        ("operator", "operator", "recipe.switch_refused", "strict", "lenient"),
        ("eve", "operator", "role.login_failed", "operator", "engineer"),
        ("eve", "engineer", "role.switch", "operator", "engineer"),
        ("eve", "engineer", "recipe.switch", "strict", "lenient"),
        ("eve", "engineer", "role.switch", "engineer", "operator"),
    ]
    assert audit.table.item(0, 3).text() == "role.switch"  # newest first


def test_engineer_edits_class_rule_in_recipe_editor(
    harness: Any, qtbot: Any, rows: Any, engineer_password: str
) -> None:
    import json

    h = harness()
    h.start()
    w = h.window
    assert w.engineer_login("eve", engineer_password) is None
    editor = w.open_recipe_editor()
    assert editor is not None and editor.recipe_box.currentText() == "strict"
    names = [editor.table.item(i, 0).text() for i in range(editor.table.rowCount())]
    assert names == ["scratch", "pit", "open", "short"]  # the model's classes
    assert editor.roi_rect[2].value() == 310  # the recipe's ROI
    editor.table.item(3, 3).setText("2")  # short: max count 2
    editor.min_conf.setValue(0.6)
    editor.apply_button.click()
    assert "Applied" in editor.message.text()
    assert h.station.config.recipes["strict"].classes["short"].max_count == 2
    edits = "select * from audit where action = 'recipe.edit'"
    qtbot.waitUntil(lambda: bool(rows(h.cfg, edits)), timeout=10_000)
    row = rows(h.cfg, edits)[0]
    assert (row["who"], row["target"]) == ("eve", "strict")
    assert json.loads(row["new"])["min_conf"] == 0.6 and json.loads(row["old"])["min_conf"] == 0.5
    editor.table.item(0, 1).setText("lots")  # not a number: refused before it reaches the station
    editor.apply_button.click()
    assert "not a number" in editor.message.text()
    assert h.station.config.recipes["strict"].classes["short"].max_count == 2


def test_language_switches_at_run_time(harness: Any, qtbot: Any) -> None:
    h = harness(max_parts=3)
    h.start()
    h.wait_results(3)
    w = h.window
    w.tick()
    assert w.start_button.text() == "Start" and w.banner.verdict_text() in ("PASS", "FAIL")
    w.set_language("zh_CN")
    assert w.start_button.text() == "启动"
    assert w.counters.titles["yield_pct"].text() == "良率"
    assert w.banner.verdict_text() in ("合格", "不合格")
    assert w.lights.rows[0][1].text() == "工位"
    w.set_language("en")
    assert w.start_button.text() == "Start"


def test_switch_to_a_broken_release_is_refused_in_the_editor(
    harness: Any, qtbot: Any, rows: Any, engineer_password: str, tmp_path: Any
) -> None:
    h = harness()
    h.start()
    w = h.window
    assert w.engineer_login("eve", engineer_password) is None
    editor = w.open_recipe_editor()
    bogus = tmp_path / "models" / "nope" / "9.9.9"
    bogus.mkdir(parents=True)
    editor.model_box.setCurrentText(str(bogus))
    editor.switch_button.click()  # loads in a worker thread; the refusal comes back through the feed
    qtbot.waitUntil(lambda: "manifest" in editor.message.text(), timeout=15_000)
    assert h.station.config.recipes["strict"].model == "fake"
    assert rows(h.cfg, "select * from audit where action = 'model.switch'") == []


def test_engineer_sets_a_recipes_camera_settings_in_the_editor(
    harness: Any, qtbot: Any, engineer_password: str
) -> None:
    h = harness()
    h.start()
    w = h.window
    assert w.engineer_login("eve", engineer_password) is None
    editor = w.open_recipe_editor()
    assert editor is not None and editor.exposure.text() == "" and editor.features.text() == ""
    editor.exposure.setText("5000")
    editor.gain.setText("1.5")
    editor.features.setText("BalanceWhiteAuto=Off; GevSCPD=2000; ReverseX=true")
    editor.apply_button.click()
    assert "Applied" in editor.message.text()
    cam = h.station.config.recipes["strict"].camera
    assert cam is not None and (cam.exposure_us, cam.gain) == (5000.0, 1.5)
    assert cam.features == {"BalanceWhiteAuto": "Off", "GevSCPD": 2000, "ReverseX": True}
    editor = w.open_recipe_editor()  # opened again: the form shows the recipe as the station has it
    assert editor is not None and editor.exposure.text() == "5000"
    assert editor.features.text() == "BalanceWhiteAuto=Off; GevSCPD=2000; ReverseX=true"
    editor.features.setText("no equals sign")
    editor.apply_button.click()
    assert "Name=value" in editor.message.text()


def test_review_dialog_shows_display_names_and_records_model_class_names(
    harness: Any, make_config: Any, qtbot: Any, rows: Any
) -> None:
    names = {"zh_CN": {"short": "短路", "pit": "凹坑"}}
    strict = {"model": "fake", "min_conf": 0.5, "roi": {"kind": "rect", "xyxy": [5, 5, 310, 230]},
              "display_names": names}
    h = harness(make_config(recipes={"strict": strict}), max_parts=9)
    h.start()
    h.wait_results(9)
    w = h.window
    w.set_language("zh_CN")
    w.refresh()
    qtbot.waitUntil(lambda: w.gallery.count() == 3, timeout=10_000)
    rect = w.gallery.visualItemRect(w.gallery.item(0))
    qtbot.mouseClick(w.gallery.viewport(), Qt.MouseButton.LeftButton, pos=rect.center())
    qtbot.waitUntil(lambda: w._reject_view is not None and w._reject_view.canvas.image is not None,
                    timeout=10_000)
    view = w._reject_view
    # the operator reads the recipe's names: on the box, in the reasons and in the class list
    assert [(b.class_name, b.label) for b in view.canvas.boxes] == [("short", "短路")]
    assert view.reasons.item(0).text().startswith("短路")
    shown = [view.class_box.itemText(i) for i in range(view.class_box.count())]
    assert "凹坑" in shown and "pit" not in shown
    # ...and the review stores the model's class name, which datasets and retraining read
    qtbot.mousePress(view.canvas, Qt.MouseButton.LeftButton, pos=image_point(view, 100, 100))
    qtbot.mouseRelease(view.canvas, Qt.MouseButton.LeftButton, pos=image_point(view, 160, 140))
    view.class_box.setCurrentIndex(shown.index("凹坑"))
    view.buttons["missed_defect"].click()
    qtbot.waitUntil(lambda: view.reviews.count() == 1, timeout=10_000)
    assert [r["class_name"] for r in rows(h.cfg, "select * from reviews")] == ["pit"]
    assert "凹坑" in view.reviews.item(0).text()
