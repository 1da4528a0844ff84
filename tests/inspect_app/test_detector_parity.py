"""Our numpy/OpenCV pipeline around ONNX Runtime and OpenVINO must give ultralytics' own detections."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from inspect_app.detector import load_detector
from inspect_app.detector.postprocess import scale_boxes
from inspect_app.detector.preprocess import as_bgr, letterbox, letterbox_into, letterbox_params, preprocess
from inspect_app.protocols import Detector
from inspect_app.types import Detection

CONF = 0.05  # low enough that the tiny model yields several detections per image, some near each other
IOU = 0.7
N_IMAGES = 8
MIN_MATCHED = 5  # the comparison must cover real detections, or "no boxes == no boxes" would pass
BACKENDS = ("onnxruntime", "openvino")


def _iou(a: tuple[float, ...], b: tuple[float, ...]) -> float:
    iw = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
    ih = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    inter = iw * ih
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter
    return inter / union if union > 0 else float(a == b)


def _matched(ours: list[Detection], ref: list[Detection], what: str) -> int:
    assert len(ours) == len(ref), f"{what}: {len(ours)} detections vs {len(ref)} in the reference"
    free = list(ref)
    for d in ours:
        hit = next(
            (
                r
                for r in free
                if r.class_id == d.class_id
                and abs(r.confidence - d.confidence) <= 0.01
                and _iou(r.box, d.box) >= 0.99
            ),
            None,
        )
        assert hit is not None, f"{what}: no reference detection matches {d}\nreference: {ref}"
        free.remove(hit)
    return len(ours)


def _from_results(result, names: tuple[str, ...]) -> list[Detection]:  # type: ignore[no-untyped-def]
    b = result.boxes
    return [
        Detection(int(c), names[int(c)], float(s), (float(x[0]), float(x[1]), float(x[2]), float(x[3])))
        for x, s, c in zip(b.xyxy.cpu().numpy(), b.conf.cpu().numpy(), b.cls.cpu().numpy(), strict=True)
    ]


@pytest.fixture(scope="module")
def images(test_images) -> list[np.ndarray]:  # type: ignore[no-untyped-def]
    imgs = test_images(N_IMAGES, 1234)
    assert all(i.shape[0] != i.shape[1] for i in imgs)
    return imgs


@pytest.fixture(scope="module")
def reference(tiny_release: Path, tiny_release_imgsz: int, images) -> dict[str, list[list[Detection]]]:  # type: ignore[no-untyped-def]
    """ultralytics' predictions for the exported ONNX and for the checkpoint."""
    import torch
    from ultralytics import YOLO

    threads = torch.get_num_threads()
    out: dict[str, list[list[Detection]]] = {}
    for name in ("model.onnx", "model.pt"):
        model = YOLO(str(tiny_release / name), task="detect")
        names = tuple(model.names[i] for i in sorted(model.names))
        # rect=False: predict() letterboxes a .pt to a minimal rectangle by default, the fixed-shape ONNX
        # (and the station) to the full imgsz; compare like with like
        args = {"imgsz": tiny_release_imgsz, "conf": CONF, "iou": IOU, "rect": False, "device": "cpu"}
        out[name] = [_from_results(model.predict(img, verbose=False, **args)[0], names) for img in images]
    torch.set_num_threads(threads)
    return out


@pytest.fixture(scope="module", params=BACKENDS)
def detector(request, tiny_release: Path):  # type: ignore[no-untyped-def]
    det = load_detector(tiny_release, request.param, threads=2)
    det.warmup()
    yield det
    det.close()


@pytest.mark.parametrize("ref_file", ["model.onnx", "model.pt"])
def test_detections_match_ultralytics(detector, reference, images, ref_file: str) -> None:  # type: ignore[no-untyped-def]
    assert isinstance(detector, Detector)
    total = 0
    for i, img in enumerate(images):
        ours = detector.detect(img, CONF, IOU)
        total += _matched(ours, reference[ref_file][i], f"{detector.info.backend} vs {ref_file}, image {i}")
    assert total >= MIN_MATCHED, f"only {total} detections compared; the fixture model is too weak"


def test_ultralytics_backend_matches_onnxruntime(tiny_release: Path, images) -> None:  # type: ignore[no-untyped-def]
    dev = load_detector(tiny_release, "ultralytics", threads=2)
    ort = load_detector(tiny_release, "onnxruntime", threads=2)
    dev.warmup()
    assert dev.info.sha256 != ort.info.sha256  # different files, same model
    total = sum(
        _matched(ort.detect(img, CONF, IOU), dev.detect(img, CONF, IOU), f"image {i}")
        for i, img in enumerate(images)
    )
    assert total >= MIN_MATCHED
    import torch

    assert torch.get_num_threads() == 2  # ultralytics' select_device() must not leave it at 1


def test_higher_conf_gives_subset(detector, images) -> None:  # type: ignore[no-untyped-def]
    for img in images:
        low = detector.detect(img, CONF, IOU)
        high = detector.detect(img, 0.3, IOU)
        assert all(d.confidence > 0.3 for d in high)
        assert len(high) <= len(low)


def test_boxes_inside_image_and_named(detector, images) -> None:  # type: ignore[no-untyped-def]
    for img in images:
        h, w = img.shape[:2]
        for d in detector.detect(img, CONF, IOU):
            x1, y1, x2, y2 = d.box
            assert 0 <= x1 <= x2 <= w and 0 <= y1 <= y2 <= h
            assert d.class_name == detector.info.names[d.class_id]


def test_grey_and_bgra_frames_accepted(detector, images) -> None:  # type: ignore[no-untyped-def]
    import cv2

    img = images[0]
    detector.detect(cv2.cvtColor(img, cv2.COLOR_BGR2GRAY), CONF, IOU)
    bgra = cv2.cvtColor(img, cv2.COLOR_BGR2BGRA)
    assert detector.detect(bgra, CONF, IOU) == detector.detect(img, CONF, IOU)


def test_threads_reach_runtime(tiny_release: Path) -> None:
    ort = load_detector(tiny_release, "onnxruntime", threads=3)
    opts = ort.session_options  # type: ignore[attr-defined]
    assert opts.intra_op_num_threads == 3
    assert opts.inter_op_num_threads == 1
    # OpenVINO caps the thread count at the machine's cores, so ask for fewer than its default (all cores)
    ov = load_detector(tiny_release, "openvino", threads=1)
    assert int(ov.get_property("INFERENCE_NUM_THREADS")) == 1  # type: ignore[attr-defined]
    assert "float32" in str(ov.get_property("INFERENCE_PRECISION_HINT"))  # type: ignore[attr-defined]
    assert ort.threads == 3 and ov.threads == 1  # type: ignore[attr-defined]


@pytest.mark.parametrize(
    ("h", "w", "size"),
    [
        (171, 130, (64, 64)),
        (40, 30, (64, 64)),
        (480, 640, (320, 320)),
        (101, 333, (96, 128)),
        (1, 3000, (64, 64)),
    ],
)
def test_letterbox_is_ultralytics(state_dir: Path, h: int, w: int, size: tuple[int, int]) -> None:
    """Pixel-exact input tensor and the same box mapping as ultralytics, incl. upscaling and odd padding."""
    import torch
    from ultralytics.data.augment import LetterBox
    from ultralytics.utils import ops

    img = np.random.default_rng(h * w).integers(0, 256, (h, w, 3), dtype=np.uint8)
    ref = LetterBox(size, auto=False, stride=32)(image=img)
    ref_blob = torch.from_numpy(ref)[None].permute(0, 3, 1, 2).contiguous().flip(1).float().div_(255).numpy()
    blob, lb = preprocess(img, size)
    assert blob.dtype == np.float32 and blob.flags.c_contiguous
    np.testing.assert_array_equal(blob, ref_blob)
    assert lb == letterbox_params((h, w), size)

    boxes = np.array([[-5.0, 3.5, 40.25, 60.0], [10.0, 10.0, 11.0, 12.0]], np.float32)
    want = ops.scale_boxes(size, torch.from_numpy(boxes.copy()), (h, w)).numpy()
    np.testing.assert_allclose(scale_boxes(boxes.copy(), lb), want, rtol=1e-6, atol=1e-4)

    # the OpenVINO backend letterboxes into its request's input tensor: the same pixels, in that memory
    dst = np.full((*size, 3), 7, np.uint8)
    assert letterbox_into(img, dst) == lb
    np.testing.assert_array_equal(dst, ref)


@pytest.mark.parametrize("shape", [(64, 64, 3), (64, 64), (64, 64, 4)])
def test_letterbox_into_a_frame_of_the_input_size_copies_it(shape: tuple[int, ...]) -> None:
    """Nothing to resize or pad: the frame itself is the input, copied into the tensor (grey and BGRA
    through ``as_bgr`` first, as the detector does)."""
    img = np.random.default_rng(3).integers(0, 256, shape, dtype=np.uint8)
    dst = np.zeros((64, 64, 3), np.uint8)
    letterbox_into(as_bgr(img), dst)
    np.testing.assert_array_equal(dst, letterbox(as_bgr(img), (64, 64))[0])


def test_a_refused_frame_gives_its_request_back(tiny_release: Path) -> None:
    det = load_detector(tiny_release, "openvino", 1, precision="f32")
    good = np.random.default_rng(5).integers(0, 256, (80, 60, 3), dtype=np.uint8)
    for _ in range(3 * det.slots):  # type: ignore[attr-defined]
        with pytest.raises(ValueError, match="uint8"):
            det.begin(good.astype(np.float32), 0.25, 0.7)
    pending = [det.begin(good, 0.25, 0.7) for _ in range(det.slots)]  # type: ignore[attr-defined]
    assert [p.result() for p in pending] == [det.detect(good, 0.25, 0.7)] * len(pending)
    det.close()


def test_a_decode_that_fails_gives_its_request_back(tiny_release: Path) -> None:
    """OpenVINO decodes straight from the request's output tensor: the request is reused only after the
    decode, and a decode that raises must not keep it."""
    det = load_detector(tiny_release, "openvino", 1, precision="f32")
    good = np.random.default_rng(6).integers(0, 256, (80, 60, 3), dtype=np.uint8)
    want = det.detect(good, 0.05, 0.7)

    def broken(pred: np.ndarray) -> list[Detection]:
        raise RuntimeError("decode failed")

    for _ in range(3 * det.slots):  # type: ignore[attr-defined]
        with pytest.raises(RuntimeError, match="decode failed"):
            det._collect(det.begin(good, 0.05, 0.7)._token, broken)  # type: ignore[attr-defined]
    # every request still works, each on a picture of its own: one request's decode must not see another's
    rng = np.random.default_rng(8)
    others = [rng.integers(0, 256, (80, 60, 3), dtype=np.uint8) for _ in range(det.slots - 1)]  # type: ignore[attr-defined]
    want_all = [want] + [det.detect(img, 0.05, 0.7) for img in others]
    pending = [det.begin(img, 0.05, 0.7) for img in [good, *others]]
    assert [p.result() for p in pending] == want_all
    det.close()


def test_a_refused_input_gives_its_request_back(tiny_release: Path) -> None:
    """The runtime call the precision timing and the benches use: a wrong input is refused, not copied in
    (a float frame or a missing batch axis), and the request it took is free again."""
    det = load_detector(tiny_release, "openvino", 1, precision="f32")
    img = np.random.default_rng(9).integers(0, 256, (80, 60, 3), dtype=np.uint8)
    blob = det._prepare(img)[0]  # type: ignore[attr-defined]
    for bad in (blob.astype(np.float32), blob[0], blob[:, :10]):
        for _ in range(det.slots + 1):  # type: ignore[attr-defined]
            with pytest.raises(ValueError, match="input must be uint8"):
                det._infer(bad)  # type: ignore[attr-defined]
    np.testing.assert_array_equal(det._infer(blob), det._infer(blob.copy()))  # type: ignore[attr-defined]
    assert len(det.detect(img, 0.05, 0.7)) > 0
    det.close()


def test_openvino_requests_keep_the_tensors_their_views_were_made_of(tiny_release: Path) -> None:
    """The backend letterboxes into, and decodes from, numpy views made once per request: OpenVINO must not
    give a request new tensors, whichever way it was run."""
    det = load_detector(tiny_release, "openvino", 1, precision="f32")
    img = np.random.default_rng(7).integers(0, 256, (80, 60, 3), dtype=np.uint8)
    det.detect(img, 0.05, 0.7)
    det._infer(det._prepare(img)[0])  # type: ignore[attr-defined]
    list(det.detect_many([img] * 3, 0.05, 0.7))
    for slot in det._free:  # type: ignore[attr-defined]
        assert np.shares_memory(slot.input, slot.request.get_input_tensor(0).data)
        assert np.shares_memory(slot.output, slot.request.get_output_tensor(0).data)
    det.close()


def test_a_model_without_a_fixed_number_of_boxes_is_refused() -> None:
    """Each request's output view is made once, so the station refuses an output whose N is not fixed
    (here N is the number of non-zero inputs) with a message, instead of decoding a stale view."""
    from types import SimpleNamespace

    import openvino as ov
    import openvino.opset13 as ops

    from inspect_app.detector.openvino_backend import _check_shapes
    from inspect_app.model_release import ModelError

    x = ops.parameter([1, 3, 8, 8], np.float32)
    rows = ops.convert(ops.non_zero(x), "f32")  # [4, ?]
    out = ops.unsqueeze(ops.concat([rows, ops.slice(rows, [0], [2], [1], [0])], 0), [0])  # [1, 6, ?]
    model = ov.Model([out.output(0)], [x])
    release = SimpleNamespace(imgsz=(8, 8), names=("a", "b"))
    with pytest.raises(ModelError, match="fixed number of boxes"):
        _check_shapes(model, release, "dynamic.xml")
