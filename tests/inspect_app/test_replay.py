"""What-if replay on a constructed history: a real station (fake camera and model, real store) records parts
whose detections are written into their pixels, so every flip a candidate makes is known in advance."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from inspect_app.config import StationConfig, parse_config
from inspect_app.replay import (
    FAIL_TO_PASS,
    PASS_TO_FAIL,
    ReplayCancelled,
    ReplayError,
    ReplayFilters,
    run_replay,
)
from inspect_app.replay.stats import wilson
from inspect_app.station import Station
from inspect_app.store.read import ResultsReader
from inspect_app.testing.fakes import ScriptedDetector, ScriptedSource
from inspect_app.types import Detection

SHORT_BOX = (10.0, 10.0, 30.0, 20.0)
PIT_BOX = (40.0, 40.0, 60.0, 50.0)
SCRATCH_BOX = (5.0, 50.0, 25.0, 60.0)

# part id -> (short conf, pit conf, scratch mark); the live recipe needs 0.5
PARTS = {
    "p1": (0.90, 0, 0),  # FAIL, reviewed: confirmed defect
    "p2": (0.60, 0, 0),  # FAIL, reviewed: false reject (the short's box)
    "p3": (0.45, 0, 0),  # PASS
    "p4": (0.30, 0, 0),  # PASS
    "p5": (0, 0, 0),  # PASS
    "p6": (0, 0.80, 0),  # FAIL
    "p7": (0.65, 0.55, 0),  # FAIL
    "p8": (0, 0, 1),  # PASS, reviewed: missed defect (a scratch only the candidate model sees)
}


def image_of(short: float, pit: float, scratch: int) -> np.ndarray:
    img = np.full((80, 100, 3), 100, np.uint8)
    img[0, 0, 0], img[0, 1, 0], img[0, 2, 0] = round(short * 200), round(pit * 200), scratch
    return img


def read_marks(image: np.ndarray, sees_scratch: bool) -> list[Detection]:
    out = []
    if image[0, 0, 0]:
        out.append(Detection(3, "short", image[0, 0, 0] / 200, SHORT_BOX))
    if image[0, 1, 0]:
        out.append(Detection(1, "pit", image[0, 1, 0] / 200, PIT_BOX))
    if sees_scratch and image[0, 2, 0]:
        out.append(Detection(0, "scratch", 0.9, SCRATCH_BOX))
    return out


def live_detector() -> ScriptedDetector:
    return ScriptedDetector(rule=lambda im: read_marks(im, False), model_id="fake/1")


def candidate_detector() -> ScriptedDetector:
    return ScriptedDetector(rule=lambda im: read_marks(im, True), model_id="fake2/1")


def make_history(root: Path, save_pass_every: int = 1) -> tuple[StationConfig, Path]:
    cfg = parse_config({
        "state_dir": str(root / "state"),
        "trigger": {"mode": "software"},
        "store": {"save_pass_every": save_pass_every, "commit_interval_ms": 5, "image_format": "png"},
        "recipes": {"r": {"model": "fake", "min_conf": 0.5}},
        "active_recipe": "r",
    })  # fmt: skip
    st = Station(cfg, source=ScriptedSource([image_of(*v) for v in PARTS.values()]),
                 detectors={"fake": live_detector()})  # fmt: skip
    st.start()
    for pid in PARTS:
        st.trigger(pid)
    assert st.wait_for_results(len(PARTS), timeout=10)
    db = root / "state" / "results.db"
    with ResultsReader(db) as r:
        ids = {rec.part_id: rec.id for rec in r.recent(100)}
    st.review(ids["p1"], "confirmed_defect", "q")
    st.review(ids["p2"], "false_reject", "q", class_name="short", box=SHORT_BOX)
    st.review(ids["p8"], "missed_defect", "q", class_name="scratch", box=SCRATCH_BOX).result(timeout=10)
    st.stop()
    return cfg, db


@pytest.fixture
def history(tmp_path: Path) -> tuple[StationConfig, Path]:
    return make_history(tmp_path)


def replay(history: tuple[StationConfig, Path], **kw):  # type: ignore[no-untyped-def]
    cfg, db = history
    dets = {"fake": live_detector(), "fake2": candidate_detector()}
    return run_replay(db, config=cfg, detectors=dets, **kw)


def stored_verdicts(db: Path) -> dict[str, str]:
    with ResultsReader(db) as r:
        return {rec.part_id: rec.verdict for rec in r.recent(100)}


def test_the_history_is_as_constructed(history) -> None:  # type: ignore[no-untyped-def]
    v = stored_verdicts(history[1])
    assert [v[p] for p in PARTS] == ["FAIL", "FAIL", "PASS", "PASS", "PASS", "FAIL", "FAIL", "PASS"]


@pytest.mark.parametrize("mode", ["auto", "detections", "image"])
def test_live_model_and_recipe_give_no_flip(history, mode: str) -> None:  # type: ignore[no-untyped-def]
    report = replay(history, mode=mode)
    assert report.selected == report.replayed == len(PARTS)
    assert report.n_flips == 0 and not report.other_changes and report.agreement == 1.0
    assert report.mode == ("image" if mode == "image" else "detections")
    assert report.yield_estimate.exact and report.yield_estimate.change_pct == 0.0


def test_a_stricter_threshold_flips_exactly_the_fails_below_it(history) -> None:  # type: ignore[no-untyped-def]
    report = replay(history, candidate_recipe={"model": "fake", "min_conf": 0.7})
    assert report.mode == "detections"  # 0.7 >= 0.5: the stored detections hold everything it needs
    assert report.flips == {PASS_TO_FAIL: 0, FAIL_TO_PASS: 2}
    assert sorted(p.part_id for p in report.flipped()) == ["p2", "p7"]
    assert report.flips_by_class == {PASS_TO_FAIL: {}, FAIL_TO_PASS: {"pit": 1, "short": 2}}
    r = report.reviews
    assert (r.reviewed, r.replayed, r.false_rejects_removed, r.escapes_introduced) == (3, 3, 1, 0)
    assert (r.defects_replayed, r.defects_failing, r.good_replayed, r.good_passing) == (2, 1, 1, 1)
    y = report.yield_estimate
    assert (y.passed, y.failed, y.yield_before_pct, y.yield_after_pct) == (4, 4, 50.0, 75.0)
    assert "2 flip(s)" in report.summary_line() and "1 false reject(s) fixed" in report.summary_line()


def test_a_too_strict_threshold_lets_a_confirmed_defect_escape(history) -> None:  # type: ignore[no-untyped-def]
    report = replay(history, candidate_recipe={"model": "fake", "min_conf": 0.95})
    assert report.flips[FAIL_TO_PASS] == 4
    assert report.reviews.escapes_introduced == 1 and report.reviews.false_rejects_removed == 1
    assert report.reviews.defects_failing == 0


def test_a_lower_threshold_reinspects_the_images(history) -> None:  # type: ignore[no-untyped-def]
    report = replay(history, candidate_recipe={"model": "fake", "min_conf": 0.4})
    assert report.mode == "image"  # below 0.5 the store has nothing: the images are inspected again
    assert report.flips == {PASS_TO_FAIL: 1, FAIL_TO_PASS: 0}
    assert [p.part_id for p in report.flipped()] == ["p3"]
    assert report.flips_by_class[PASS_TO_FAIL] == {"short": 1}


def test_class_rules_ignore_and_max_count(history) -> None:  # type: ignore[no-untyped-def]
    ignore_pit = replay(history, candidate_recipe={"model": "fake", "min_conf": 0.5,
                                                   "classes": {"pit": {"ignore": True}}})  # fmt: skip
    assert [p.part_id for p in ignore_pit.flipped()] == ["p6"]
    one_allowed = replay(history, candidate_recipe={"model": "fake", "min_conf": 0.5, "max_count": 1})
    assert sorted(p.part_id for p in one_allowed.flipped()) == ["p1", "p2", "p6", "p7"]


def test_a_roi_flips_the_parts_whose_defects_lie_outside(history) -> None:  # type: ignore[no-untyped-def]
    roi = {"kind": "rect", "xyxy": [35, 35, 100, 80]}  # holds the pit's box only
    report = replay(history, candidate_recipe={"model": "fake", "min_conf": 0.5, "roi": roi})
    assert sorted(p.part_id for p in report.flipped()) == ["p1", "p2"]
    outside = {"kind": "rect", "xyxy": [500, 500, 600, 600]}  # the stored images are 100x80
    nothing = replay(history, candidate_recipe={"model": "fake", "min_conf": 0.5, "roi": outside})
    assert nothing.n_flips == 0 and nothing.other_changes == {"FAIL->NOT_INSPECTED": 4,
                                                              "PASS->NOT_INSPECTED": 4}  # fmt: skip


def test_a_candidate_release_catches_the_reviewed_escape(history) -> None:  # type: ignore[no-untyped-def]
    report = replay(history, candidate_release="fake2")
    assert report.mode == "image" and report.candidate["model_id"] == "fake2/1"
    assert report.flips == {PASS_TO_FAIL: 1, FAIL_TO_PASS: 0}
    assert report.flips_by_class[PASS_TO_FAIL] == {"scratch": 1}
    assert report.reviews.escapes_caught == 1


def test_filters_select_what_they_say(history) -> None:  # type: ignore[no-untyped-def]
    assert [p.part_id for p in replay(history, filters=ReplayFilters(last=3)).parts] == ["p6", "p7", "p8"]
    fails = replay(history, filters=ReplayFilters(verdict="FAIL"))
    assert [p.part_id for p in fails.parts] == ["p1", "p2", "p6", "p7"]
    reviewed = replay(history, filters=ReplayFilters(reviewed=True))
    assert [p.part_id for p in reviewed.parts] == ["p1", "p2", "p8"]
    assert len(replay(history, filters=ReplayFilters(reviewed=False)).parts) == 5
    assert replay(history, filters=ReplayFilters(recipe="other")).selected == 0
    assert replay(history, filters=ReplayFilters(verdict="FAIL", last=2)).selected == 2


def test_missing_and_corrupt_images_are_not_replayable_never_agreeing(tmp_path: Path) -> None:
    cfg, db = make_history(tmp_path, save_pass_every=0)  # no PASS image kept at all
    with ResultsReader(db) as r:
        paths = {rec.part_id: rec.image_path for rec in r.recent(100)}
    (db.parent / paths["p1"]).unlink()
    data = (db.parent / paths["p2"]).read_bytes()
    (db.parent / paths["p2"]).write_bytes(data[: len(data) // 2])
    report = run_replay(db, config=cfg, detectors={"fake": live_detector()}, mode="image")
    assert report.replayed == 2 and report.agreement == 1.0  # p6, p7
    assert report.not_replayable == {
        "image corrupt (sha256 differs from the stored one)": 1,
        "image file missing": 1,
        "no image kept (the station keeps 1 in N PASS images)": 4,
    }
    y = report.yield_estimate
    assert not y.exact and y.yield_after_pct is None and "cannot be estimated" in y.statement
    assert "0 of the 4 stored PASS parts" in report.pass_sampling


def test_sampled_pass_images_give_an_interval(tmp_path: Path) -> None:
    cfg, db = make_history(tmp_path, save_pass_every=2)  # 2 of the 4 PASS images kept
    report = run_replay(db, config=cfg, candidate_recipe={"model": "fake", "min_conf": 0.4},
                        detectors={"fake": live_detector()})  # fmt: skip
    y = report.yield_estimate
    assert (y.pass_replayed, y.fail_replayed) == (2, 4) and not y.exact
    assert y.yield_after_interval_pct is not None
    assert y.yield_after_interval_pct.low <= y.yield_after_pct <= y.yield_after_interval_pct.high
    assert "only 2 of the 4 stored PASS parts could be replayed" in y.statement
    # the interval's ends come from Wilson's interval of the PASS->FAIL rate in the kept sample
    pf = wilson(y.pass_to_fail, 2)
    assert y.yield_after_interval_pct.low == pytest.approx(100 * (4 * (1 - pf.high) + 0) / 8, abs=0.01)
    # the FAIL side was replayed in full (0 of 4 flipped): exact, no interval widens the upper end
    assert y.yield_after_interval_pct.high == pytest.approx(100 * (4 * (1 - pf.low) + 0) / 8, abs=0.01)


def test_wilson_interval() -> None:
    w = wilson(0, 50)
    assert w.low == 0.0 and w.high == pytest.approx(0.0713, abs=1e-4)
    w = wilson(5, 10)
    assert w.low == pytest.approx(0.2366, abs=1e-4) and w.high == pytest.approx(0.7634, abs=1e-4)


def test_json_holds_every_part_and_the_counts(history) -> None:  # type: ignore[no-untyped-def]
    report = replay(history, candidate_recipe={"model": "fake", "min_conf": 0.7})
    data = json.loads(report.to_json())
    assert data["flips"] == {PASS_TO_FAIL: 0, FAIL_TO_PASS: 2} and len(data["parts"]) == 8
    assert data["candidate"]["recipe_changes"] == {"min_conf": [0.5, 0.7]}
    p2 = next(p for p in data["parts"] if p["part_id"] == "p2")
    assert (p2["stored_verdict"], p2["replayed_verdict"], p2["flip"], p2["truth"]) == (
        "FAIL", "PASS", FAIL_TO_PASS, "good")  # fmt: skip


def test_a_recipe_that_does_not_fit_the_model_is_refused(history) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(ReplayError, match="bogus"):
        replay(history, candidate_recipe={"model": "fake", "classes": {"bogus": {"ignore": True}}})
    with pytest.raises(ReplayError, match="min_conf"):
        replay(history, candidate_recipe={"model": "fake", "min_conf": 3})


def test_cancel_stops_the_replay(history) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(ReplayCancelled):
        replay(history, should_stop=lambda: True)
    seen: list[tuple[int, int]] = []
    replay(history, progress=lambda d, t: seen.append((d, t)))
    assert seen[-1] == (8, 8)


def test_a_rebuilt_release_under_the_same_version_is_not_taken_for_the_live_one(history) -> None:  # type: ignore[no-untyped-def]
    import dataclasses

    cfg, db = history
    rebuilt = live_detector()
    rebuilt.info = dataclasses.replace(rebuilt.info, sha256="1" * 64)  # same name/version, other weights
    report = run_replay(db, config=cfg, candidate_release="rebuilt",
                        detectors={"fake": live_detector(), "rebuilt": rebuilt})  # fmt: skip
    assert report.mode == "image" and report.candidate["model_id"] == "fake/1"
    same = run_replay(db, config=cfg, candidate_release="fake", detectors={"fake": live_detector()})
    assert same.mode == "detections" and same.n_flips == 0


def test_time_filters(history) -> None:  # type: ignore[no-untyped-def]
    with ResultsReader(history[1]) as r:
        epoch = {rec.part_id: rec.epoch for rec in r.recent(100)}
    since = replay(history, filters=ReplayFilters(since_epoch=epoch["p4"]))
    assert [p.part_id for p in since.parts] == ["p4", "p5", "p6", "p7", "p8"]
    until = replay(history, filters=ReplayFilters(until_epoch=epoch["p3"]))  # until is exclusive
    assert [p.part_id for p in until.parts] == ["p1", "p2"]


def test_a_recipe_edited_during_the_history_is_taken_into_account(tmp_path: Path) -> None:
    """Parts judged at min_conf 0.7 kept no detection below it: after an audited edit to 0.5, replaying the
    live recipe must inspect their images again, where the 0.6 short makes p2 FAIL."""
    from inspect_app.config import RecipeConfig

    cfg = parse_config({
        "state_dir": str(tmp_path / "state"),
        "trigger": {"mode": "software"},
        "pipeline": {"stall_timeout_s": 0.5},  # parts before the edit: judged by the old recipe for sure
        "store": {"save_pass_every": 1, "commit_interval_ms": 5, "image_format": "png"},
        "recipes": {"r": {"model": "fake", "min_conf": 0.7}},
        "active_recipe": "r",
    })  # fmt: skip
    images = [image_of(*PARTS[p]) for p in ("p1", "p2", "p3")]
    st = Station(cfg, source=ScriptedSource(images * 2), detectors={"fake": live_detector()})
    st.start()
    for pid in ("a1", "a2", "a3"):
        st.trigger(pid)
    assert st.wait_for_results(3, timeout=10)
    import time

    time.sleep(0.6)  # past the stall window: a1-a3 are older than the edit by more than it
    st.set_recipe_config("r", RecipeConfig(model="fake", min_conf=0.5), "eve").result(timeout=10)
    for pid in ("b1", "b2", "b3"):
        st.trigger(pid)
    assert st.wait_for_results(6, timeout=10)
    live = st.config
    st.stop()
    db = tmp_path / "state" / "results.db"
    assert [stored_verdicts(db)[p] for p in ("a2", "b2")] == ["PASS", "FAIL"]  # 0.6: below 0.7, above 0.5
    report = run_replay(db, config=live, detectors={"fake": live_detector()})
    modes = {p.part_id: p.mode for p in report.parts}
    assert modes["a2"] == "image" and modes["b2"] == "detections"
    assert [(p.part_id, p.flip) for p in report.flipped()] == [("a2", PASS_TO_FAIL)]
