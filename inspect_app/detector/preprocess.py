"""Letterbox and tensor conversion, numpy + OpenCV only (the station has no torch).

This reproduces ultralytics' ``LetterBox`` as ``YOLO(...).predict`` applies it to a fixed-shape exported
model (``auto=False``, ``center=True``, pad 114, ``INTER_LINEAR``) and the predictor's tensor conversion
(BGR->RGB, HWC->CHW, float32 / 255). Any deviation (another interpolation, other rounding of the padding)
shifts boxes by a pixel or changes confidences near the threshold, so the parity tests compare against
ultralytics itself.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

PAD_VALUE = 114


@dataclass(frozen=True, slots=True)
class Letterbox:
    """Where the original image sits inside the network input."""

    orig_shape: tuple[int, int]  # h, w of the camera image
    input_shape: tuple[int, int]  # h, w of the network input
    new_shape: tuple[int, int]  # h, w of the resized image before padding
    gain: tuple[float, float]  # (gain_y, gain_x): resized / original, per axis after rounding
    pad: tuple[int, int]  # (left, top) padding in network-input pixels


def as_bgr(image: np.ndarray) -> np.ndarray:
    """Accept grey and BGRA frames too: cameras deliver them, and the model wants 3 channels."""
    if not isinstance(image, np.ndarray) or image.size == 0:
        raise ValueError("image must be a non-empty numpy array")
    if image.dtype != np.uint8:
        raise ValueError(f"image must be uint8, got {image.dtype}")
    if image.ndim == 2 or (image.ndim == 3 and image.shape[2] == 1):
        return cv2.cvtColor(image, cv2.COLOR_GRAY2BGR)
    if image.ndim == 3 and image.shape[2] == 4:
        return cv2.cvtColor(image, cv2.COLOR_BGRA2BGR)
    if image.ndim == 3 and image.shape[2] == 3:
        return image
    raise ValueError(f"image must be HxW, HxWx1, HxWx3 or HxWx4, got shape {image.shape}")


def letterbox_params(orig_shape: tuple[int, int], input_shape: tuple[int, int]) -> Letterbox:
    """Same arithmetic as ``LetterBox.get_params`` and ``ops.scale_boxes`` (Python ``round``, banker's)."""
    h0, w0 = orig_shape
    h1, w1 = input_shape
    r = min(h1 / h0, w1 / w0)
    new_w, new_h = max(round(w0 * r), 1), max(round(h0 * r), 1)
    left = round((w1 - new_w) / 2 - 0.1)
    top = round((h1 - new_h) / 2 - 0.1)
    return Letterbox((h0, w0), (h1, w1), (new_h, new_w), (new_h / h0, new_w / w0), (left, top))


def letterbox(image: np.ndarray, input_shape: tuple[int, int]) -> tuple[np.ndarray, Letterbox]:
    """Resize keeping the aspect ratio and pad to ``input_shape`` (h, w) with grey 114."""
    lb = letterbox_params(image.shape[:2], input_shape)
    return _letterbox(image, lb, None), lb


def letterbox_into(image: np.ndarray, dst: np.ndarray) -> Letterbox:
    """``letterbox`` written into ``dst`` (h, w, 3, uint8, C-contiguous), e.g. an inference request's own
    input tensor: no array for the result and no copy of it into the runtime (0.27-0.31 ms of a decision
    at 320 on the Zen 4 of docs/performance.md, both on caches the last inference had emptied)."""
    lb = letterbox_params(image.shape[:2], dst.shape[:2])
    out = _letterbox(image, lb, dst)
    if out is not dst and not np.shares_memory(out, dst):  # nothing to resize or pad: the image itself
        np.copyto(dst, out)
    return lb


def _letterbox(image: np.ndarray, lb: Letterbox, dst: np.ndarray | None) -> np.ndarray:
    h1, w1 = lb.input_shape
    new_h, new_w = lb.new_shape
    left, top = lb.pad
    # ultralytics pads right/bottom with round(d + 0.1); the remainder gives the same sizes
    right, bottom = w1 - new_w - left, h1 - new_h - top
    pad = bool(left or right or top or bottom)
    if lb.orig_shape != (new_h, new_w):
        image = cv2.resize(image, (new_w, new_h), dst=None if pad else dst, interpolation=cv2.INTER_LINEAR)
    if pad:
        image = cv2.copyMakeBorder(
            image, top, bottom, left, right, cv2.BORDER_CONSTANT, dst=dst,
            value=(PAD_VALUE, PAD_VALUE, PAD_VALUE),
        )  # fmt: skip
    return image


def to_blob(image: np.ndarray) -> np.ndarray:
    """HxWx3 BGR uint8 -> 1x3xHxW RGB float32 in [0, 1], contiguous.

    Divides by 255 (not multiplies by 1/255) because that is what the predictor does; the results are then
    bit-identical to ultralytics' input tensor.
    """
    blob = image[:, :, ::-1].transpose(2, 0, 1)[None].astype(np.float32)
    blob /= np.float32(255.0)
    return np.ascontiguousarray(blob)


def preprocess(image: np.ndarray, input_shape: tuple[int, int]) -> tuple[np.ndarray, Letterbox]:
    padded, lb = letterbox(as_bgr(image), input_shape)
    return to_blob(padded), lb
