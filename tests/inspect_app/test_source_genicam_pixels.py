"""GenICam pixel formats to the detector's 8-bit BGR: built here from known pictures, no camera needed."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from inspect_app.sources.genicam_pixels import FORMATS_BY_NAME, PixelDataError, to_bgr


def _code(name: str) -> int:
    return FORMATS_BY_NAME[name].code


def test_mono12_is_scaled_by_its_top_bits() -> None:
    values = np.array([[0, 16, 4095, 2048]], np.uint16)  # 12-bit samples in 16-bit little-endian words
    out = to_bgr(values.astype("<u2").tobytes(), _code("Mono12"), 4, 1)
    assert out.shape == (1, 4, 3) and out.dtype == np.uint8
    assert out[0, :, 0].tolist() == [0, 1, 255, 128]
    assert (out[..., 0] == out[..., 2]).all()  # grey


def test_mono16_and_mono8() -> None:
    words = np.array([[0, 256, 65535]], "<u2")
    assert to_bgr(words.tobytes(), _code("Mono16"), 3, 1)[0, :, 1].tolist() == [0, 1, 255]
    assert to_bgr(bytes([3, 200]), _code("Mono8"), 2, 1)[0, :, 2].tolist() == [3, 200]


@pytest.mark.parametrize("name", ["Mono12Packed", "Mono12p"])
def test_packed_mono12_gives_the_top_eight_bits(name: str) -> None:
    p0, p1 = 0xABC, 0x123
    if name == "Mono12Packed":  # GigE Vision: P0 11..4 | P0 3..0 + P1 3..0 << 4 | P1 11..4
        packed = bytes([p0 >> 4, (p0 & 0xF) | ((p1 & 0xF) << 4), p1 >> 4])
    else:  # PFNC Mono12p, LSB first
        packed = bytes([p0 & 0xFF, (p0 >> 8) | ((p1 & 0xF) << 4), p1 >> 4])
    out = to_bgr(packed * 2, _code(name), 2, 2)
    assert out[:, :, 0].tolist() == [[p0 >> 4, p1 >> 4]] * 2


@pytest.mark.parametrize("pattern", ["RG", "BG", "GR", "GB"])
def test_bayer_mosaic_of_a_red_scene_is_red(pattern: str) -> None:
    h, w = 8, 8
    mosaic = np.zeros((h, w), np.uint8)
    # where the red photosites are in each 2x2 pattern (row, column of the first sensor row and column)
    red_at = {"RG": (0, 0), "BG": (1, 1), "GR": (0, 1), "GB": (1, 0)}[pattern]
    mosaic[red_at[0]::2, red_at[1]::2] = 200
    out = to_bgr(mosaic.tobytes(), _code(f"Bayer{pattern}8"), w, h)
    b, g, r = (float(out[2:-2, 2:-2, c].mean()) for c in range(3))
    assert r > 150 and g < 30 and b < 30


def test_bayer12_is_scaled_then_demosaiced() -> None:
    mosaic = np.full((4, 4), 4095, "<u2")
    out = to_bgr(mosaic.tobytes(), _code("BayerRG12"), 4, 4)
    assert int(out.min()) == 255


def test_rgb8_becomes_bgr_and_row_padding_is_skipped() -> None:
    rgb = np.array([[[255, 0, 0], [0, 0, 255]]], np.uint8)  # red, blue
    padded = rgb.tobytes() + b"\x99\x99"  # two bytes of padding at the end of the row
    out = to_bgr(padded + rgb.tobytes(), _code("RGB8"), 2, 2, row_padding=2)
    assert out[0, 0].tolist() == [0, 0, 255] and out[1, 1].tolist() == [255, 0, 0]


def test_yuv422_matches_opencv() -> None:
    yuyv = np.array([[[100, 90], [150, 200]]], np.uint8)
    out = to_bgr(yuyv.tobytes(), _code("YUV422_8"), 2, 1)
    assert np.array_equal(out, cv2.cvtColor(yuyv, cv2.COLOR_YUV2BGR_YUYV))


def test_truncated_buffer_and_unknown_format_are_refused() -> None:
    with pytest.raises(PixelDataError, match="truncated"):
        to_bgr(bytes(10), _code("Mono8"), 4, 4)
    with pytest.raises(PixelDataError, match="not read by the station"):
        to_bgr(bytes(16), 0x01234567, 4, 4)
    with pytest.raises(PixelDataError, match="odd width"):
        to_bgr(bytes(9), _code("Mono12p"), 3, 2)
