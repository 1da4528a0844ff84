"""NMS gives torchvision's answer (what ultralytics runs) on both of its paths: all pairs at once for the
few boxes a part usually has, one kept box at a time for many; and scale_boxes maps boxes back exactly as
ultralytics' scale_boxes + clip_boxes do."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torchvision

from inspect_app.detector import postprocess
from inspect_app.detector.postprocess import nms, scale_boxes
from inspect_app.detector.preprocess import letterbox_params

# NumPy warnings are errors here: a zero-area box must not make NMS warn (it keeps the box, as torchvision)
pytestmark = pytest.mark.filterwarnings("error::RuntimeWarning")


def _boxes(rng: np.random.Generator, n: int) -> np.ndarray:
    """Clustered boxes (so that many overlap), some copies of others and some of zero area."""
    centres = rng.uniform(0, 320, (max(1, n // 4), 2))[rng.integers(0, max(1, n // 4), n)]
    xy = centres + rng.normal(0, 6, (n, 2))
    wh = rng.uniform(0, 60, (n, 2))
    boxes = np.concatenate((xy, xy + wh), axis=1).astype(np.float32)
    if n > 3:
        boxes[1] = boxes[0]
        boxes[2, 2:] = boxes[2, :2]  # zero area: its IoU is NaN, which keeps the box
    return boxes


@pytest.mark.parametrize("n", [0, 1, 2, 3, 5, 12, 31, 32, 33, 80])
def test_nms_is_torchvisions_on_both_paths(n: int) -> None:
    rng = np.random.default_rng(n)
    for trial in range(20):
        boxes = _boxes(rng, n)
        scores = rng.permutation(n).astype(np.float32) / max(n, 1) + np.float32(0.01)  # distinct: no ties
        iou = float(rng.choice([0.3, 0.5, 0.7]))
        want = torchvision.ops.nms(torch.from_numpy(boxes), torch.from_numpy(scores), iou).numpy()
        got = nms(boxes, scores, iou)
        np.testing.assert_array_equal(got, want, err_msg=f"n={n}, trial {trial}")
        assert got.dtype == np.int64


@pytest.mark.parametrize("n", [2, 7, 20, 32])
def test_the_small_path_equals_the_loop_with_ties_and_a_limit(
    n: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    rng = np.random.default_rng(100 + n)
    cases = []
    for _ in range(30):
        boxes = _boxes(rng, n)
        scores = rng.integers(1, 4, n).astype(np.float32) / 4  # ties: the stable order decides
        cases.append((boxes, scores, float(rng.choice([0.3, 0.7])), [None, 0, 1, 3][int(rng.integers(0, 4))]))
    small = [nms(b, s, iou, limit) for b, s, iou, limit in cases]
    monkeypatch.setattr(postprocess, "SMALL_NMS", -1)  # every call down the loop
    loop = [nms(b, s, iou, limit) for b, s, iou, limit in cases]
    for i, (a, b) in enumerate(zip(small, loop, strict=True)):
        np.testing.assert_array_equal(a, b, err_msg=f"case {i}")


@pytest.mark.parametrize(
    ("h", "w", "size"), [(240, 320, (64, 64)), (480, 250, (320, 320)), (100, 700, (96, 160))]
)
def test_scale_boxes_is_ultralytics_to_the_bit(h: int, w: int, size: tuple[int, int]) -> None:
    from ultralytics.utils import ops

    rng = np.random.default_rng(h)
    xy = rng.uniform(-20, max(size) + 20, (200, 2))
    boxes = np.concatenate((xy, xy + rng.uniform(0, 80, (200, 2))), axis=1).astype(np.float32)
    lb = letterbox_params((h, w), size)
    want = ops.scale_boxes(size, torch.from_numpy(boxes.copy()), (h, w)).numpy()
    np.testing.assert_array_equal(scale_boxes(boxes.copy(), lb), want)


def _raw_output(rng: np.random.Generator, k: int, multi_label: bool, nc: int = 3, n: int = 300) -> np.ndarray:
    """A model's raw [1, 4+nc, n] output with ``k`` anchors above conf 0.25 (distinct scores), clustered."""
    pred = np.empty((1, 4 + nc, n), np.float32)
    centres = rng.uniform(20, 300, (8, 2))[rng.integers(0, 8, n)]  # clustered: NMS has work to do
    pred[0, :2] = (centres + rng.normal(0, 4, (n, 2))).T
    pred[0, 2:4] = rng.uniform(4, 60, (2, n))
    pred[0, 4:] = rng.uniform(0, 0.2, (nc, n))
    hot = rng.choice(n, k, replace=False)
    pred[0, 4 + rng.integers(0, nc, k), hot] = rng.uniform(0.3, 1.0, k)
    if multi_label and k:
        pred[0, 4:, hot[: k // 2 + 1]] = rng.uniform(0.26, 1.0, (k // 2 + 1, nc))  # above conf in several
    return pred


@pytest.mark.parametrize("multi_label", [False, True])
@pytest.mark.parametrize("k", [0, 1, 2, 5, 40, 200])
@pytest.mark.parametrize(("max_det", "max_nms"), [(300, 30000), (0, 30000), (1, 30000), (5, 30000), (300, 3)])
def test_decode_is_ultralytics_non_max_suppression_to_the_bit(
    k: int, multi_label: bool, max_det: int, max_nms: int
) -> None:
    """Every path of ``decode`` (no candidate, one, which skips NMS, few, many; the max_det and max_nms
    caps), on the raw output as ultralytics' NMS takes it: the same boxes, scores and classes in order."""
    from ultralytics.utils.nms import non_max_suppression

    nc, conf, iou = 3, 0.25, 0.6
    rng = np.random.default_rng(k)
    for trial in range(10):
        pred = _raw_output(rng, k, multi_label, nc)
        boxes, scores, classes = postprocess.decode(
            pred, conf, iou, nc, max_det=max_det, max_nms=max_nms, multi_label=multi_label
        )
        want = non_max_suppression(
            torch.from_numpy(pred.copy()), conf, iou, multi_label=multi_label, nc=nc, max_det=max_det,
            max_nms=max_nms,
        )[0].numpy()  # fmt: skip
        assert len(scores) == len(want) and (k == 0 or max_det == 0 or len(want) > 0), f"trial {trial}"
        np.testing.assert_array_equal(boxes, want[:, :4], err_msg=f"trial {trial}")
        np.testing.assert_array_equal(scores, want[:, 4], err_msg=f"trial {trial}")
        np.testing.assert_array_equal(classes, want[:, 5].astype(np.int64), err_msg=f"trial {trial}")


@pytest.mark.parametrize("multi_label", [False, True])
@pytest.mark.parametrize("k", [0, 1, 2, 40])
def test_what_decode_returns_owns_its_memory(k: int, multi_label: bool) -> None:
    """OpenVINO decodes straight from a request's output tensor, which its next inference overwrites:
    nothing decode or postprocess return may point into it."""
    pred = _raw_output(np.random.default_rng(50 + k), k, multi_label)
    arrays = postprocess.decode(pred, 0.25, 0.6, 3, multi_label=multi_label)
    kept = [a.copy() for a in arrays]
    lb = letterbox_params((640, 480), (320, 320))
    dets = postprocess.postprocess(pred, lb, 0.25, 0.6, ("a", "b", "c"), multi_label=multi_label)
    pred[:] = np.float32(0.9)  # the next inference
    for a, b in zip(arrays, kept, strict=True):
        assert not np.shares_memory(a, pred)
        np.testing.assert_array_equal(a, b)
    assert dets == postprocess.postprocess(_raw_output(np.random.default_rng(50 + k), k, multi_label), lb,
                                           0.25, 0.6, ("a", "b", "c"), multi_label=multi_label)  # fmt: skip
