"""Reasons shown in the operator's language, from the fields the runtime stores."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from PyQt6.QtWidgets import QApplication

from inspect_app.config import RecipeConfig
from inspect_app.rules import RecipeRules
from inspect_app.types import Detection
from ui.i18n import Translations
from ui.reason_text import error_title, reason_text


@pytest.fixture
def zh(qapp: QApplication) -> Iterator[Translations]:
    t = Translations(qapp)
    t.set_language("zh_CN")
    yield t
    t.set_language("en")


def _count_exceeded() -> dict[str, Any]:
    rules = RecipeRules("r", RecipeConfig(model="m", classes={"short": {"max_count": 1}}), ("short",))
    dets = [Detection(0, "short", 0.9, (10, 20, 30, 40)), Detection(0, "short", 0.8, (50, 60, 70, 80))]
    decision = rules.decide(dets, (640, 640))
    return decision.reasons[0].as_dict()


def test_defect_reasons_follow_the_language(zh: Translations) -> None:
    r = _count_exceeded()
    assert r["count"] == 2 and r["limit"] == 1
    assert reason_text(r) == "short 位于 (10,20)-(30,40)，置信度 0.90；发现 2 个，允许 1 个"
    zh.set_language("en")
    assert reason_text(r) == "short at (10,20)-(30,40), confidence 0.90; 2 found, 1 allowed"


def test_errors_get_a_translated_title_and_keep_their_detail(zh: Translations) -> None:
    r = {"code": "CAMERA_ERROR", "message": "/dev/video0: no such device"}
    assert reason_text(r) == "相机错误: /dev/video0: no such device"
    assert error_title("IMAGE_CORRUPT") == "图像无法读取"
    assert error_title("SOMETHING_NEW") == "SOMETHING_NEW"


def test_rows_from_before_counts_were_stored_show_their_message(zh: Translations) -> None:
    old = {"code": "COUNT_EXCEEDED", "message": "short at (1,2)-(3,4) conf 0.90; 2 found, 1 allowed",
           "class_name": "short", "confidence": 0.9, "box": [1, 2, 3, 4]}
    assert reason_text(old) == old["message"]
