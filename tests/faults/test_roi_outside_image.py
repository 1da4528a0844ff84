"""Case 5: an ROI that leaves no area of the image is refused (every part would PASS): at start where the
source's size is known, naming the recipe key; on the first frame of a camera otherwise."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import cv2
import numpy as np
import pytest

from inspect_app.config import ConfigError, RecipeConfig, parse_config
from inspect_app.state import StationState
from inspect_app.station import StartupError, Station
from inspect_app.testing.fakes import ScriptedDetector, ScriptedSource, part_image, wait_until
from inspect_app.testing.records import rows

OUTSIDE = {"kind": "rect", "xyxy": [700, 700, 900, 900]}


def test_refused_at_start_when_the_synthetic_size_is_known(tmp_path: Path, make_config: Any) -> None:
    cfg = make_config(tmp_path, source={"kind": "synthetic", "width": 640, "height": 640},
                      recipes={"r": {"model": "fake", "roi": OUTSIDE}})  # fmt: skip
    st = Station(cfg, detectors={"fake": ScriptedDetector()})
    with pytest.raises(StartupError, match=r"recipes\.r\.roi leaves no area inside the 640x640 image"):
        st.start()
    assert st.state == StationState.HALTED


def test_refused_at_start_from_the_first_image_of_a_folder(tmp_path: Path, make_config: Any) -> None:
    (tmp_path / "img").mkdir()
    cv2.imwrite(str(tmp_path / "img" / "a.png"), np.zeros((300, 400, 3), np.uint8))
    poly = {"kind": "polygon", "points": [[500, 10], [600, 10], [550, 90]]}
    cfg = make_config(tmp_path, source={"kind": "folder", "path": str(tmp_path / "img")},
                      recipes={"r": {"model": "fake", "roi": poly}})  # fmt: skip
    with pytest.raises(StartupError, match=r"recipes\.r\.roi .* 400x300"):
        Station(cfg, detectors={"fake": ScriptedDetector()}).start()


def test_a_camera_whose_first_frame_misses_the_roi_is_an_error_until_the_recipe_is_fixed(
    tmp_path: Path, make_config: Any
) -> None:
    cfg = make_config(tmp_path, recipes={"r": {"model": "fake", "roi": OUTSIDE}})
    st = Station(
        cfg, source=ScriptedSource([part_image(True)], loop=True), detectors={"fake": ScriptedDetector()}
    )
    st.start()
    st.trigger("first")
    assert wait_until(lambda: st.state == StationState.ERROR, 10)
    assert st.error_code == "ROI_OUTSIDE_IMAGE" and "recipes.r.roi" in (st.error_text or "")
    assert st.reset("operator") is False  # the ROI still misses the image
    st.set_recipe_config("r", RecipeConfig(model="fake", roi={"kind": "rect", "xyxy": [0, 0, 64, 64]}),
                         who="engineer").result(10)  # fmt: skip
    assert st.reset("operator") is True
    st.trigger("after-fix")
    assert st.wait_for_results(2, 10)
    st.stop()
    got = {r["part_id"]: (r["verdict"], r["error_code"]) for r in rows(cfg)}
    assert got["first"] == ("NOT_INSPECTED", "ROI_OUTSIDE_IMAGE")  # not a PASS for lack of a place to look
    assert got["after-fix"] == ("FAIL", None)  # the defect is inside the fixed ROI


def test_an_roi_partly_outside_is_clipped_not_refused(tmp_path: Path, make_config: Any) -> None:
    cfg = make_config(
        tmp_path,
        source={"kind": "synthetic", "width": 640, "height": 640},
        recipes={"r": {"model": "fake", "roi": {"kind": "rect", "xyxy": [600, 600, 900, 900]}}},
    )
    st = Station(cfg, detectors={"fake": ScriptedDetector()})
    st.start()
    st.stop()


def test_a_polygon_without_area_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match=r"recipes\.r\.roi\.points"):
        parse_config({"recipes": {"r": {"model": "m", "roi": {"kind": "polygon", "points": [[0, 0], [5, 5],
                      [10, 10]]}}}, "active_recipe": "r"})  # fmt: skip
