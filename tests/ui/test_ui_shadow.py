"""The window shows the shadow model's agreement with the live one (per verdict, per class), and its model
switch is gated: a candidate that lets a reviewed defect pass is refused in the editor, audited."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from inspect_app.testing.const_models import write_brightness_release
from inspect_app.testing.fakes import wait_until


def _parts_in(text: str) -> int:
    found = re.search(r"agree on (\d+) parts", text)
    return int(found.group(1)) if found else 0


def test_the_shadow_light_shows_agreement_per_verdict_and_class(
    harness: Any, make_config: Any, tmp_path: Path, qtbot: Any
) -> None:
    release = write_brightness_release(tmp_path / "models", "cand", "1.0.0", -1.0)  # FAILs every part
    h = harness(make_config(shadow={"enabled": True, "release": str(release)}))
    h.start()
    w = h.window
    assert wait_until(lambda: (s := h.station.shadow_status()) is not None and s.judged >= 6, 30)
    # the lights refresh on the window's own period: wait for a text that counts the parts judged so far
    # (a tick right after an earlier refresh keeps the earlier text)
    qtbot.waitUntil(lambda: _parts_in(w.lights.text_of("shadow")) >= 6, timeout=10_000)
    text = w.lights.text_of("shadow")
    # the script is 1 marked board in 3 (live FAIL on a short); the shadow FAILs all on a scratch
    assert text.startswith("cand/1.0.0: ") and "PASS→FAIL" in text and "FAIL→PASS" not in text
    assert "per class: " in text and "scratch 0 %" in text and "short 0 %" in text
    assert dict((k, lvl) for k, lvl, _ in w.lights.items)["shadow"] == "warn"  # below the gate's 90 %
    w.set_language("zh_CN")
    w.tick()
    qtbot.waitUntil(lambda: "一致" in w.lights.text_of("shadow"), timeout=10_000)
    assert "影子模型" in [title.text() for _light, title, _text in w.lights.rows]
    w.set_language("en")
    h.stop()


def test_no_shadow_light_without_a_shadow(harness: Any, qtbot: Any) -> None:
    h = harness()
    h.start()
    h.wait_results(2)
    h.window.tick()
    assert h.window.lights.text_of("shadow") == ""
    h.stop()


def test_the_window_model_switch_refuses_a_candidate_that_misses_a_reviewed_defect(
    harness: Any, qtbot: Any, rows: Any, engineer_password: str, tmp_path: Path
) -> None:
    blind = write_brightness_release(tmp_path / "models", "blind", "1.0.0", 2.0)  # never sees anything
    h = harness()
    h.start()
    h.wait_results(4)
    w = h.window
    fails = "select id from inspections where verdict = 'FAIL' order by id limit 1"
    qtbot.waitUntil(lambda: bool(rows(h.cfg, fails)), timeout=10_000)
    fail_id = rows(h.cfg, fails)[0]["id"]
    h.station.review(fail_id, "confirmed_defect", "quinn").result(timeout=10)
    assert w.engineer_login("eve", engineer_password) is None
    editor = w.open_recipe_editor()
    editor.model_box.setCurrentText(str(blind))
    editor.switch_button.click()  # the gate runs in a worker thread; the refusal comes back through the feed
    qtbot.waitUntil(lambda: "promotion gate" in editor.message.text(), timeout=30_000)
    assert "Not switched: the promotion gate refused blind/1.0.0." in editor.message.text()
    shown = editor.message.text()
    assert f"Confirmed defects: 1 of 1 reviewed defects would PASS (inspections {fail_id})" in shown
    assert h.station.config.recipes["strict"].model == "fake"
    refused = rows(h.cfg, "select who, target from audit where action = 'model.promote.refused'")
    assert [(r["who"], r["target"]) for r in refused] == [("eve", "strict")]
    h.stop()


def test_a_gate_refusal_lists_its_failed_checks_in_chinese(harness: Any) -> None:
    from inspect_app.promotion_gate import GateCheck
    from ui.window_actions import gate_check_text

    h = harness()
    h.window.set_language("zh_CN")
    checks = [
        GateCheck("confirmed defects", False, "", {"escapes": 2, "judged": 5, "ids": "7, 9"}),
        GateCheck("false rejects", False, "", {"passed": 1, "judged": 4, "share": 0.25, "needed": 0.5}),
        GateCheck("agreement", False, "", {"agreeing": 90, "parts": 100, "share": 0.9, "needed": 0.98,
                                           "min_parts": 200}),
        GateCheck("test mAP50", False, "", {"metric": "mAP50", "candidate": 0.9, "live": 0.95,
                                            "tolerance": 0.01}),
    ]  # fmt: skip
    texts = [gate_check_text(c) for c in checks]
    assert texts[0] == "已确认缺陷：5 个已复核缺陷中有 2 个会被判为合格（检测记录 7, 9）"
    assert "25%" in texts[1] and "需要 50%" in texts[1]
    assert texts[2].endswith("；至少需要 200 个零件") and "90.0%" in texts[2]
    assert texts[3].startswith("测试集 mAP50：0.9000") and "0.9500" in texts[3]
    assert not any(c.isascii() and c.isalpha() and c not in "mAP" for t in texts[:3] for c in t)  # no English
    h.window.set_language("en")

