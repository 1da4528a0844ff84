"""The station runs the precision a release offers: int8 where it passed its gate, ``auto`` timed on this CPU
(issue 13). Which precision wins depends on the CPU, so no test asserts a winner, only that the choice was
made among the offered candidates, is reported, and is what runs."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest

from inspect_app.config import parse_config
from inspect_app.detector import load_detector
from inspect_app.detector.postprocess import decode
from inspect_app.detector.precision import cpu_has_bf16
from inspect_app.model_release import ModelError
from inspect_app.types import iou


def test_int8_runs_the_gated_file_and_finds_what_f32_finds(
    tiny_int8_release: Path, test_images: Callable[[int, int], list[np.ndarray]]
) -> None:
    manifest = json.loads((tiny_int8_release / "manifest.json").read_text())
    f32 = load_detector(tiny_int8_release, "openvino", 2, precision="f32")
    int8 = load_detector(tiny_int8_release, "openvino", 2, precision="int8")
    assert int8.info.precision == "int8" and f32.info.precision == "f32"
    assert int8.info.sha256 == manifest["files"]["model-int8.xml"]["sha256"]
    assert f32.info.sha256 == manifest["files"]["model.onnx"]["sha256"]
    matched = confident = 0
    for img in test_images(12, 31):
        b = int8.detect(img, 0.1, 0.7)
        for d in f32.detect(img, 0.4, 0.7):
            confident += 1
            matched += any(o.class_id == d.class_id and iou(o.box, d.box) >= 0.5 for o in b)
    assert confident >= 5 and matched >= 0.9 * confident


def test_auto_times_each_offered_precision_and_runs_its_choice(tiny_int8_release: Path) -> None:
    det = load_detector(tiny_int8_release, "openvino", 2, precision="auto")
    choice = det.precision_choice  # type: ignore[attr-defined]
    timed = dict(choice.median_ms)
    assert set(timed) == {"f32", "int8"}  # bf16 needs the recipe owner's consent
    assert all(ms > 0 for ms in timed.values()) and choice.rounds >= 10
    assert choice.chosen in timed and det.info.precision == choice.chosen
    assert ("bf16", "not allowed: [detector] allow_bf16 = false") in choice.skipped
    assert choice.chosen in choice.line() and "int8" in choice.line()


def test_auto_with_consent_tries_bf16_only_where_the_cpu_has_it(tiny_int8_release: Path) -> None:
    det = load_detector(tiny_int8_release, "openvino", 2, precision="auto", allow_bf16=True)
    choice = det.precision_choice  # type: ignore[attr-defined]
    timed = dict(choice.median_ms)
    if cpu_has_bf16():
        assert set(timed) == {"f32", "bf16", "int8"}
    else:
        assert set(timed) == {"f32", "int8"} and "bf16" in dict(choice.skipped)


def test_auto_without_int8_is_f32_without_timing(tiny_release: Path) -> None:
    det = load_detector(tiny_release, "openvino", 2, precision="auto")
    choice = det.precision_choice  # type: ignore[attr-defined]
    assert choice.chosen == "f32" and choice.median_ms == () and det.info.precision == "f32"
    assert ("int8", "the release has no int8 model") in choice.skipped
    other = load_detector(tiny_release, "onnxruntime", 1, precision="auto")
    assert other.info.precision == "f32" and other.info.backend == "onnxruntime"


def test_int8_is_refused_where_it_cannot_run(tiny_release: Path, tiny_int8_release: Path) -> None:
    with pytest.raises(ModelError, match="offers no int8 model"):
        load_detector(tiny_release, "openvino", 1, precision="int8")
    with pytest.raises(ModelError, match="needs the openvino backend"):
        load_detector(tiny_int8_release, "onnxruntime", 1, precision="int8")


def test_config_default_is_auto_and_int8_needs_openvino() -> None:
    from inspect_app.config import ConfigError

    base = {"recipes": {"r": {"model": "m"}}, "active_recipe": "r"}
    cfg = parse_config(base)
    assert cfg.detector.precision == "auto" and cfg.detector.allow_bf16 is False
    with pytest.raises(ConfigError, match=r"detector\.precision: int8 needs backend"):
        parse_config({**base, "detector": {"backend": "onnxruntime", "precision": "int8"}})


def test_many_in_flight_give_the_same_detections_in_order(
    tiny_int8_release: Path, test_images: Callable[[int, int], list[np.ndarray]]
) -> None:
    imgs = test_images(9, 41)
    one = load_detector(tiny_int8_release, "openvino", 2, precision="int8")
    many = load_detector(tiny_int8_release, "openvino", 2, precision="int8", streams=2)
    assert many.slots >= 2  # type: ignore[attr-defined]
    expected = [one.detect(img, 0.25, 0.7) for img in imgs]
    got = list(many.detect_many(imgs, 0.25, 0.7))  # type: ignore[attr-defined]
    assert [[d.class_id for d in ds] for ds in got] == [[d.class_id for d in ds] for ds in expected]
    for ds, es in zip(got, expected, strict=True):
        for d, e in zip(ds, es, strict=True):
            assert iou(d.box, e.box) > 0.99 and abs(d.confidence - e.confidence) < 1e-3
    pending = [one.begin(img, 0.25, 0.7) for img in imgs[:2]]  # type: ignore[attr-defined]
    assert [len(p.result()) for p in pending] == [len(e) for e in expected[:2]]


def test_multi_label_decode_is_ultralytics_validator_nms() -> None:
    import torch
    from ultralytics.utils.nms import non_max_suppression

    rng = np.random.default_rng(3)
    n, nc = 400, 4
    xy = rng.uniform(20, 300, (n, 2))
    wh = rng.uniform(8, 60, (n, 2))
    scores = rng.uniform(0, 1, (n, nc)) ** 3  # several classes above 0.001 for most anchors
    pred = np.concatenate((xy, wh, scores), 1).T[None].astype(np.float32)
    boxes, conf, cls = decode(pred, 0.001, 0.7, nc, multi_label=True)
    ref = non_max_suppression(torch.from_numpy(pred), 0.001, 0.7, multi_label=True, max_det=300)[0].numpy()
    assert len(boxes) == len(ref) == 300
    ours = sorted(zip(conf.round(5), cls, strict=True))
    theirs = sorted(zip(ref[:, 4].round(5), ref[:, 5].astype(int), strict=True))
    assert ours == theirs


def test_station_says_which_precision_it_chose(tiny_int8_release: Path, tmp_path: Path) -> None:
    from inspect_app.station import Station
    from inspect_app.testing.fakes import ScriptedSource, part_image
    from inspect_app.testing.records import event_messages

    cfg = parse_config({
        "state_dir": str(tmp_path / "state"),
        "trigger": {"mode": "software"},
        "recipes": {"r": {"model": str(tiny_int8_release)}},
        "active_recipe": "r",
    })  # fmt: skip
    st = Station(cfg, source=ScriptedSource([part_image(False)], loop=True))
    st.start()
    try:
        det = st.models()[str(tiny_int8_release)]
        chosen = det.precision_choice.chosen  # type: ignore[attr-defined]
        detail = st.health().model.detail
        assert detail.startswith(f"tiny/0.2.0 (openvino {chosen}); precision auto: {chosen} (f32 ")
        assert "int8" in detail.split("auto:", 1)[1]  # both precisions' timings
    finally:
        st.stop()
    loaded = [m for m in event_messages(cfg) if m.startswith("models loaded")]
    assert loaded == [f"models loaded: {detail}"]  # the event and health say the same
