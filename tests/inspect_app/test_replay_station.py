"""Replay on a history the real station made with a real (tiny) model: replaying the live model and recipe
gives 0 flips, from the stored detections and from the stored images alike."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest

from inspect_app.config import parse_config
from inspect_app.replay import ReplayFilters, run_replay
from inspect_app.station import Station
from inspect_app.testing.fakes import ScriptedSource


@pytest.mark.parametrize("backend", ["openvino", "onnxruntime"])
def test_replaying_the_live_model_and_recipe_gives_no_flip(
    tmp_path: Path, tiny_release: Path, test_images: Callable[[int, int], list[np.ndarray]], backend: str
) -> None:
    script = test_images(40, 12)
    cfg = parse_config({
        "state_dir": str(tmp_path / "state"),
        "trigger": {"mode": "software", "queue_size": 64},
        "detector": {"backend": backend, "threads": 2, "precision": "f32"},
        "store": {"save_pass_every": 1, "commit_interval_ms": 5, "image_format": "png"},
        "recipes": {"r": {"model": str(tiny_release), "min_conf": 0.3}},
        "active_recipe": "r",
    })  # fmt: skip
    st = Station(cfg, source=ScriptedSource(script))  # the station loads its own detector from the config
    st.start()
    for i in range(len(script)):
        st.trigger(f"p{i:02d}")
    assert st.wait_for_results(len(script), timeout=120)
    st.stop()
    db = tmp_path / "state" / "results.db"
    for mode in ("detections", "image"):
        report = run_replay(db, config=cfg, mode=mode)
        assert report.selected == report.replayed == len(script), report.not_replayable
        assert report.n_flips == 0 and not report.other_changes
        # the history exercised both verdicts, so "no flip" is not "nothing to flip"
        assert report.yield_estimate.passed and report.yield_estimate.failed
    # a stricter recipe does flip some FAILs, and only FAILs, from the same history
    strict = run_replay(db, config=cfg, candidate_recipe={"model": str(tiny_release), "min_conf": 0.9},
                        filters=ReplayFilters(verdict="FAIL"))  # fmt: skip
    assert strict.mode == "detections" and strict.flips["PASS->FAIL"] == 0
