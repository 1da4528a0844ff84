"""The synthetic part generator: determinism, truth boxes that match what was painted, label lines."""

from __future__ import annotations

import re
from functools import cache

import cv2
import numpy as np
import pytest

from inspect_app.synth.generator import (
    CLASS_NAMES,
    STYLE_CLASSES,
    PartGenerator,
    SyntheticPart,
    from_yolo_labels,
    to_yolo_labels,
)
from inspect_app.types import TruthBox

N = 24  # frames per property check: enough to meet every class, cheap on two cores


@cache
def _gen(style: str, width: int = 640, height: int = 640, seed: int = 7, rate: float = 1.0) -> PartGenerator:
    return PartGenerator(style, width, height, seed=seed, defect_rate=rate, layouts=4)  # type: ignore[arg-type]


@cache
def _pair(style: str, index: int) -> tuple[SyntheticPart, SyntheticPart]:
    g = _gen(style)
    return g.generate(index), g.generate(index, with_defects=False)


def _changed(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return (a != b).any(axis=2)


def _crop(img: np.ndarray, t: TruthBox, margin: int = 0) -> np.ndarray:
    x1, y1, x2, y2 = (int(v) for v in t.box)
    return img[max(0, y1 - margin):y2 + margin, max(0, x1 - margin):x2 + margin]


def test_same_seed_and_index_give_identical_frames_whatever_the_order() -> None:
    a = PartGenerator("pcb", 320, 256, seed=3, defect_rate=0.5, layouts=3)
    b = PartGenerator("pcb", 320, 256, seed=3, defect_rate=0.5, layouts=3)
    first = [a.generate(i) for i in range(6)]
    for i in (5, 2, 0, 4, 1, 3):
        again = b.generate(i)
        assert again.image.tobytes() == first[i].image.tobytes()
        assert again.truth == first[i].truth
        assert (again.index, again.seed) == (i, 3)


def test_seed_and_index_change_the_frame() -> None:
    a = PartGenerator("surface", 256, 256, seed=1, layouts=2).generate(0)
    b = PartGenerator("surface", 256, 256, seed=2, layouts=2).generate(0)
    c = PartGenerator("surface", 256, 256, seed=1, layouts=2).generate(1)
    assert not np.array_equal(a.image, b.image)
    assert not np.array_equal(a.image, c.image)


@pytest.mark.parametrize("style", ["pcb", "surface"])
@pytest.mark.parametrize(("width", "height"), [(640, 640), (480, 320)])
def test_frames_and_boxes_are_well_formed(style: str, width: int, height: int) -> None:
    g = _gen(style, width, height)
    scale = min(width, height) / 640
    for i in range(N):
        part = g.generate(i)
        assert part.image.shape == (height, width, 3) and part.image.dtype == np.uint8
        assert part.image.flags.c_contiguous
        assert 1 <= len(part.truth) <= 3
        for t in part.truth:
            assert t.class_id in STYLE_CLASSES[style] and t.class_name == CLASS_NAMES[t.class_id]
            x1, y1, x2, y2 = t.box
            assert 0 <= x1 < x2 <= width and 0 <= y1 < y2 <= height
            # visible at the model's 320 input, never a sliver or half the frame
            assert min(x2 - x1, y2 - y1) >= 5 * scale, t
            assert max(x2 - x1, y2 - y1) <= 80 * scale, t


def test_defect_rate_zero_is_always_clean_and_one_always_defective() -> None:
    clean, dirty = _gen("pcb", 256, 256, rate=0.0), _gen("pcb", 256, 256, rate=1.0)
    assert all(clean.generate(i).truth == () for i in range(N))
    assert all(dirty.generate(i).truth for i in range(N))


def test_defect_rate_is_roughly_honoured() -> None:
    g = PartGenerator("surface", 128, 128, seed=5, defect_rate=0.3, layouts=1)
    frac = np.mean([bool(g.generate(i).truth) for i in range(200)])
    assert 0.18 < frac < 0.42


def test_every_class_of_a_style_occurs_and_no_other() -> None:
    for style in ("pcb", "surface"):
        seen = {t.class_id for i in range(2 * N) for t in _pair(style, i)[0].truth}
        assert seen == set(STYLE_CLASSES[style])


@pytest.mark.parametrize("style", ["pcb", "surface"])
def test_truth_boxes_cover_exactly_the_painted_pixels(style: str) -> None:
    for i in range(N):
        part, bare = _pair(style, i)
        assert bare.truth == ()
        changed = _changed(part.image, bare.image)
        inside = np.zeros_like(changed)
        for t in part.truth:
            x1, y1, x2, y2 = (int(v) for v in t.box)
            assert t.box == (x1, y1, x2, y2)  # boxes lie on pixel edges
            inside[y1:y2, x1:x2] = True
            box_changed = changed[y1:y2, x1:x2]
            ys, xs = np.nonzero(box_changed)
            # tight: what changed spans (nearly) the whole box in both directions
            assert xs.max() - xs.min() + 1 >= 0.8 * (x2 - x1), t
            assert ys.max() - ys.min() + 1 >= 0.8 * (y2 - y1), t
            # visible: the strongest changes in the box (a thin scratch covers little of its box) are large
            diff = np.abs(_crop(part.image, t).astype(np.int16) - _crop(bare.image, t)).max(axis=2)
            assert np.sort(diff, axis=None)[-20:].mean() >= 30, (t, diff.max())
        assert not changed[~inside].any(), f"frame {i}: pixels changed outside every truth box"


def test_defects_stay_visible_at_the_model_input_size() -> None:
    for i in range(N):
        part, bare = _pair("pcb", i)
        small = cv2.resize(part.image, (320, 320), interpolation=cv2.INTER_AREA).astype(np.int16)
        small_bare = cv2.resize(bare.image, (320, 320), interpolation=cv2.INTER_AREA)
        for t in part.truth:
            x1, y1, x2, y2 = (int(v) // 2 for v in t.box)
            assert np.abs(small[y1:y2 + 1, x1:x2 + 1] - small_bare[y1:y2 + 1, x1:x2 + 1]).max() >= 30, t


def _broken_line(mask: np.ndarray) -> bool:
    """True when copper lies at both ends of the crop along one axis and not across its middle."""
    for profile in (mask.mean(axis=1), mask.mean(axis=0)):
        mid = len(profile) // 2
        if profile[:3].max() > 0.3 and profile[-3:].max() > 0.3 and profile[mid - 1:mid + 2].min() < 0.15:
            return True
    return False


def test_opens_break_a_trace_and_shorts_bridge_two() -> None:
    checked = {2: 0, 3: 0}
    for i in range(3 * N):
        part, bare = _pair("pcb", i)
        for t in part.truth:
            if t.class_id not in checked:
                continue
            before = _crop(bare.image, t, 3).astype(np.float32)
            after = _crop(part.image, t, 3).astype(np.float32)
            changed = np.abs(after - before).max(axis=2) > 20
            # copper and mask colours of this very board, from the pixels the defect swapped
            copper, mask = (np.median(im[changed], axis=0) for im in ((before, after) if t.class_id == 2
                                                                       else (after, before)))

            def is_copper(im: np.ndarray, copper: np.ndarray = copper, mask: np.ndarray = mask) -> np.ndarray:
                return np.linalg.norm(im - copper, axis=2) < np.linalg.norm(im - mask, axis=2)

            inner = (slice(3, -3), slice(3, -3))
            if t.class_id == 2:  # a trace ran through the box, and now stops either side of a gap
                assert is_copper(before)[inner].mean() > 0.6, t
                assert _broken_line(is_copper(after)), t
            else:  # two traces ended either side of the box, and now copper runs across it
                assert _broken_line(is_copper(before)), t
                assert is_copper(after)[inner].mean() > is_copper(before)[inner].mean() + 0.4, t
            checked[t.class_id] += 1
    assert min(checked.values()) >= 3, checked


def test_label_lines_round_trip() -> None:
    truth = _pair("pcb", 0)[0].truth + _pair("pcb", 1)[0].truth
    lines = to_yolo_labels(truth, 640, 640)
    assert len(lines) == len(truth)
    for line in lines:
        assert re.fullmatch(r"[0-3]( [01]\.\d{6}){4}", line), line
    back = from_yolo_labels(lines, 640, 640)
    for a, b in zip(truth, back, strict=True):
        assert (a.class_id, a.class_name) == (b.class_id, b.class_name)
        assert np.allclose(a.box, b.box, atol=640 * 1e-6)


def test_label_lines_are_normalised_and_clipped() -> None:
    t = TruthBox(1, "pit", (-4.0, 10.0, 20.0, 250.0))
    assert to_yolo_labels([t], 200, 100) == ["1 0.050000 0.550000 0.100000 0.900000"]
    assert to_yolo_labels([], 200, 100) == []


def test_bad_parameters_are_refused() -> None:
    with pytest.raises(ValueError, match="style"):
        PartGenerator("wood")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="defect_rate"):
        PartGenerator(defect_rate=1.5)
    with pytest.raises(ValueError, match="64x64"):
        PartGenerator(width=32)


def test_zoom_draws_features_larger() -> None:
    def mean_area(zoom: float) -> float:
        gen = PartGenerator("pcb", 320, 320, seed=5, defect_rate=1.0, zoom=zoom)
        boxes = [t.box for i in range(20) for t in gen.generate(i).truth]
        areas = [(x2 - x1) * (y2 - y1) for x1, y1, x2, y2 in boxes]
        return sum(areas) / len(areas)

    assert mean_area(2.0) > 2.5 * mean_area(1.0)  # twice the size is four times the area
    with pytest.raises(ValueError, match="zoom"):
        PartGenerator(zoom=20)
