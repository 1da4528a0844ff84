"""``precision = "auto"`` remembers its choice in the state dir (issue 13; issue 2's start-up time): a later
start with the same release, CPU, OpenVINO, threads and streams runs the remembered precision without
timing; anything else, or a file it cannot read, and it times again. Never a reason not to start."""

from __future__ import annotations

import json
import struct
from collections.abc import Callable
from pathlib import Path

import numpy as np

from inspect_app.detector import load_detector, precision_memo
from inspect_app.detector.precision import candidates
from inspect_app.model_release import load_release


def test_the_choice_is_timed_once_then_remembered(tiny_int8_release: Path, tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    first = load_detector(tiny_int8_release, "openvino", 2, precision="auto", cache_dir=cache)
    timed = first.precision_choice  # type: ignore[attr-defined]
    assert timed.measured_at is None and set(dict(timed.median_ms)) == {"f32", "int8"}
    first.close()
    assert len(json.loads((cache / precision_memo.FILE).read_text())) == 1
    assert list((cache / "openvino").glob("*.blob"))  # OpenVINO's compiled models kept too

    again = load_detector(tiny_int8_release, "openvino", 2, precision="auto", cache_dir=cache)
    remembered = again.precision_choice  # type: ignore[attr-defined]
    assert remembered.measured_at is not None and "timed at" in remembered.line()
    assert (remembered.chosen, remembered.median_ms) == (timed.chosen, timed.median_ms)
    assert again.info.precision == timed.chosen  # what runs is what was chosen
    again.close()


def test_other_threads_are_timed_again(tiny_int8_release: Path, tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    load_detector(tiny_int8_release, "openvino", 2, precision="auto", cache_dir=cache).close()
    other = load_detector(tiny_int8_release, "openvino", 1, precision="auto", cache_dir=cache)
    assert other.precision_choice.measured_at is None  # type: ignore[attr-defined]
    assert len(json.loads((cache / precision_memo.FILE).read_text())) == 2


def test_a_remembered_precision_that_is_no_candidate_is_not_run(
    tiny_int8_release: Path, tmp_path: Path
) -> None:
    cache = tmp_path / "cache"
    release = load_release(tiny_int8_release, verify=[])
    names, skipped = candidates(release, "openvino", False)
    key = precision_memo.memo_key(release, names, skipped, None, 2, 1)
    cache.mkdir()
    (cache / precision_memo.FILE).write_text(json.dumps({key: {
        "chosen": "bf16", "median_ms": [["bf16", 1.0]], "rounds": 10, "skipped": [],
        "measured_at": "2026-01-01T00:00:00Z"}}))  # fmt: skip
    det = load_detector(tiny_int8_release, "openvino", 2, precision="auto", cache_dir=cache)
    assert det.precision_choice.measured_at is None and det.info.precision in ("f32", "int8")  # type: ignore[attr-defined]
    det.close()
    assert list(json.loads((cache / precision_memo.FILE).read_text())) == [key]  # the station's key: replaced


def test_an_unreadable_memo_or_cache_never_stops_a_start(tiny_int8_release: Path, tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    cache.mkdir()
    (cache / precision_memo.FILE).write_text("{ half a file")
    det = load_detector(tiny_int8_release, "openvino", 2, precision="auto", cache_dir=cache)
    assert det.precision_choice.measured_at is None  # type: ignore[attr-defined]
    det.close()
    assert len(json.loads((cache / precision_memo.FILE).read_text())) == 1  # replaced by a good one

    blocked = tmp_path / "not-a-dir"
    blocked.write_text("a file where the cache folder would be")
    det = load_detector(tiny_int8_release, "openvino", 2, precision="auto", cache_dir=blocked)
    assert det.info.precision in ("f32", "int8")


def test_a_damaged_compiled_model_in_the_cache_is_not_run(
    tiny_int8_release: Path, tmp_path: Path, test_images: Callable[[int, int], list[np.ndarray]]
) -> None:
    """A damaged compiled model in the cache is compiled again from the verified model, never run (a flipped
    weight would judge parts wrong without a word). OpenVINO itself does not notice damaged weights: the
    station keeps its own sha256 of each blob (``detector.blob_ledger``)."""
    cache = tmp_path / "cache"
    images = test_images(6, 7)

    def detections(cache_dir: Path | None) -> list[list[tuple[int, float]]]:
        det = load_detector(tiny_int8_release, "openvino", 2, precision="int8", cache_dir=cache_dir)
        try:
            return [[(d.class_id, round(d.confidence, 4)) for d in det.detect(im, 0.1, 0.7)] for im in images]
        finally:
            det.close()

    reference = detections(None)
    assert detections(cache) == reference
    det = load_detector(tiny_int8_release, "openvino", 2, precision="int8", cache_dir=cache)
    assert det.get_property("LOADED_FROM_CACHE") is True  # type: ignore[attr-defined]  # verified: used
    det.close()
    (blob,) = (cache / "openvino").glob("*.blob")
    blob.chmod(0o600)
    data = bytearray(blob.read_bytes())
    for i in range(200, len(data), 211):  # the blob's structure broken
        data[i] ^= 0xFF
    blob.write_bytes(bytes(data))
    assert detections(cache) == reference
    # one word of the weights changed, the blob's structure intact: OpenVINO would load and run it
    (blob,) = (cache / "openvino").glob("*.blob")
    blob.chmod(0o600)
    data = bytearray(blob.read_bytes())
    middle = len(data) // 2 & ~3
    data[middle : middle + 4] = struct.pack("<f", 1e6)
    blob.write_bytes(bytes(data))
    det = load_detector(tiny_int8_release, "openvino", 2, precision="int8", cache_dir=cache)
    assert det.get_property("LOADED_FROM_CACHE") is False  # type: ignore[attr-defined]
    det.close()
    assert detections(cache) == reference


def test_a_model_switch_on_a_running_line_does_not_remember_its_timing(
    tiny_int8_release: Path, tmp_path: Path
) -> None:
    """A switch times auto's candidates beside the line's own inferences: the choice is used, not kept for
    the next start (which times it on a quiet CPU); a choice remembered earlier is still used."""
    from inspect_app.config import parse_config
    from inspect_app.station import Station
    from inspect_app.testing.fakes import ScriptedDetector, ScriptedSource, part_image

    cfg = parse_config({
        "state_dir": str(tmp_path / "state"),
        "trigger": {"mode": "free_run", "rate_hz": 50},
        "recipes": {"r": {"model": "fake"}},
        "active_recipe": "r",
    })  # fmt: skip
    st = Station(
        cfg, source=ScriptedSource([part_image(False)], loop=True), detectors={"fake": ScriptedDetector()}
    )
    st.start()
    try:
        assert st.wait_for_results(3, 30)
        st.switch_model("r", tiny_int8_release, "eve").result(timeout=30)
        det = st.models()[str(tiny_int8_release.resolve())]
        choice = det.precision_choice  # type: ignore[attr-defined]
        assert choice.under_load and choice.measured_at is None and "not remembered" in choice.line()
        assert not (tmp_path / "state" / "cache" / precision_memo.FILE).exists()
    finally:
        st.stop()

    # remembered on a quiet start, then a switch uses what was remembered
    cache = tmp_path / "state" / "cache"
    load_detector(tiny_int8_release, "openvino", None, precision="auto", cache_dir=cache).close()
    remembered = load_detector(tiny_int8_release, "openvino", None, precision="auto", cache_dir=cache,
                               under_load=True).precision_choice  # type: ignore[attr-defined]  # fmt: skip
    assert remembered.measured_at is not None and not remembered.under_load
