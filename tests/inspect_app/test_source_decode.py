"""Strict decoding: damaged pictures are refused before inspection, odd but valid ones still decode."""

from __future__ import annotations

import struct
import zlib

import cv2
import numpy as np
import pytest

from inspect_app.protocols import CorruptFrame
from inspect_app.sources.decode import decode_image, read_header


def _photo(h: int = 120, w: int = 160) -> np.ndarray:
    rng = np.random.default_rng(1)
    return cv2.GaussianBlur(rng.integers(0, 255, (h, w, 3), dtype=np.uint8), (7, 7), 2)


def _jpeg(img: np.ndarray | None = None) -> bytes:
    return cv2.imencode(".jpg", _photo() if img is None else img)[1].tobytes()


def _png(img: np.ndarray) -> bytes:
    return cv2.imencode(".png", img)[1].tobytes()


def _png_chunk(kind: bytes, body: bytes) -> bytes:
    return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))


@pytest.mark.parametrize(
    ("name", "make"),
    [
        ("16-bit PNG", lambda: _png(_photo().astype(np.uint16) * 257)),
        ("grey PNG", lambda: _png(_photo()[:, :, 0])),
        ("RGBA PNG", lambda: _png(cv2.cvtColor(_photo(), cv2.COLOR_BGR2BGRA))),
        ("1x1 PNG", lambda: _png(np.full((1, 1, 3), 7, np.uint8))),
        ("interlaced PNG", None),
        ("grey JPEG", lambda: _jpeg(_photo()[:, :, 0])),
        ("progressive JPEG", lambda: cv2.imencode(".jpg", _photo(), [cv2.IMWRITE_JPEG_PROGRESSIVE, 1])[1]
         .tobytes()),
        ("1x1 JPEG", lambda: _jpeg(np.full((1, 1, 3), 7, np.uint8))),
        ("BMP", lambda: cv2.imencode(".bmp", _photo())[1].tobytes()),
        ("WebP", lambda: cv2.imencode(".webp", _photo())[1].tobytes()),
        ("lossless WebP", lambda: cv2.imencode(".webp", _photo(), [cv2.IMWRITE_WEBP_QUALITY, 101])[1]
         .tobytes()),
        ("TIFF", lambda: cv2.imencode(".tiff", _photo())[1].tobytes()),
    ],
)
def test_valid_odd_formats_decode_to_bgr(name: str, make: object) -> None:
    if make is None:
        pytest.importorskip("PIL")
        import io

        from PIL import Image

        buf = io.BytesIO()
        Image.fromarray(_photo()).save(buf, "PNG", interlace=1)
        data = buf.getvalue()
    else:
        data = make()  # type: ignore[operator]
    img = decode_image(data, name)
    h, w = read_header(data, name).height, read_header(data, name).width
    assert img.dtype == np.uint8 and img.shape == (h, w, 3)


def test_jpeg_decodes_like_opencv() -> None:
    data = _jpeg()
    ref = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_COLOR)
    assert np.abs(decode_image(data, "x").astype(int) - ref.astype(int)).max() <= 2


def test_truncated_jpeg_with_end_marker_appended_is_corrupt() -> None:
    data = _jpeg()
    with pytest.raises(CorruptFrame, match="damaged JPEG") as err:
        decode_image(data[: len(data) // 2] + b"\xff\xd9", "cut.jpg")
    assert err.value.code == "IMAGE_CORRUPT"


def test_jpeg_with_flipped_entropy_bytes_is_corrupt() -> None:
    data = bytearray(_jpeg())
    for i in range(len(data) // 2, len(data) // 2 + 64):
        data[i] ^= 0x55
    with pytest.raises(CorruptFrame, match="damaged JPEG"):
        decode_image(bytes(data), "flipped.jpg")


def test_png_with_bad_crc_or_truncated_stream_is_corrupt() -> None:
    data = bytearray(_png(_photo()))
    data[60] ^= 0xFF  # inside the first IDAT
    with pytest.raises(CorruptFrame, match="CRC"):
        decode_image(bytes(data), "crc.png")
    good = _png(_photo())
    with pytest.raises(CorruptFrame, match="truncated PNG"):
        decode_image(good[: len(good) // 2], "half.png")
    # a stream cut short but wrapped in valid chunks (CRCs right, IEND present): the pixels are missing
    ihdr = good[8 : 8 + 25]
    stream = zlib.compress(b"\x00" * 100)
    forged = good[:8] + ihdr + _png_chunk(b"IDAT", stream) + _png_chunk(b"IEND", b"")
    with pytest.raises(CorruptFrame, match="incomplete"):
        decode_image(forged, "forged.png")


def test_decompression_bomb_is_refused_from_its_header() -> None:
    # a 100 kB-ish PNG that declares 100000 x 100000 pixels: refused before any allocation
    ihdr = struct.pack(">IIBBBBB", 100_000, 100_000, 8, 2, 0, 0, 0)
    idat = _png_chunk(b"IDAT", zlib.compress(b"\x00" * 100_000))
    bomb = b"\x89PNG\r\n\x1a\n" + _png_chunk(b"IHDR", ihdr) + idat + _png_chunk(b"IEND", b"")
    with pytest.raises(CorruptFrame) as err:
        decode_image(bomb, "bomb.png", max_pixels=50_000_000)
    assert err.value.code == "IMAGE_TOO_LARGE" and "100000x100000" in str(err.value)


def test_png_named_jpg_is_read_by_its_content(tmp_path: object) -> None:
    img = decode_image(_png(_photo()), "really_a_png.jpg")
    assert img.shape == (120, 160, 3)


@pytest.mark.parametrize("data", [b"", b"\x89PNG garbage", b"hello world", b"\xff\xd8\xff\xe0garbage"])
def test_garbage_is_corrupt(data: bytes) -> None:
    with pytest.raises(CorruptFrame):
        decode_image(data, "junk")
