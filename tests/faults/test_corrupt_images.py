"""Case 4 (and the decompression bomb of case 1) through the station: a picture the decoder would have to
repair, or that declares more pixels than allowed, is recorded NOT_INSPECTED and never judged; the station
goes on with the next part."""

from __future__ import annotations

import struct
import zlib
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from inspect_app.state import StationState
from inspect_app.station import Station
from inspect_app.testing.fakes import ScriptedDetector
from inspect_app.testing.records import rows


def _photo() -> np.ndarray:
    rng = np.random.default_rng(3)
    return cv2.GaussianBlur(rng.integers(0, 255, (96, 128, 3), dtype=np.uint8), (7, 7), 2)


def _chunk(kind: bytes, body: bytes) -> bytes:
    return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))


def test_damaged_pictures_are_never_judged_and_the_station_goes_on(tmp_path: Path, make_config: Any) -> None:
    folder = tmp_path / "images"
    folder.mkdir()
    jpg = cv2.imencode(".jpg", _photo())[1].tobytes()
    flipped = bytearray(jpg)
    for i in range(len(jpg) // 2, len(jpg) // 2 + 64):
        flipped[i] ^= 0x55
    ihdr = struct.pack(">IIBBBBB", 60_000, 60_000, 8, 2, 0, 0, 0)
    bomb = b"\x89PNG\r\n\x1a\n" + _chunk(b"IHDR", ihdr) + _chunk(b"IDAT", zlib.compress(b"\0" * 1000))
    files = {
        "a_good.jpg": jpg,
        "b_truncated_with_eoi.jpg": jpg[: len(jpg) // 2] + b"\xff\xd9",
        "c_flipped.jpg": bytes(flipped),
        "d_bomb.png": bomb + _chunk(b"IEND", b""),
        "e_png_named.jpg": cv2.imencode(".png", _photo())[1].tobytes(),
        "f_grey16.png": cv2.imencode(".png", (_photo()[:, :, 0].astype(np.uint16) * 257))[1].tobytes(),
    }
    for name, data in files.items():
        (folder / name).write_bytes(data)
    cfg = make_config(
        tmp_path, source={"kind": "folder", "path": str(folder), "max_image_pixels": 10_000_000}
    )
    st = Station(cfg, detectors={"fake": ScriptedDetector()})
    st.start()
    for name in sorted(files):
        st.trigger(name)
    assert st.wait_for_results(len(files), 20)
    assert st.state == StationState.READY  # a bad file is the part's problem, not the station's
    st.stop()
    got = {r["part_id"]: (r["verdict"], r["error_code"]) for r in rows(cfg)}
    assert got == {
        "a_good.jpg": ("PASS", None),
        "b_truncated_with_eoi.jpg": ("NOT_INSPECTED", "IMAGE_CORRUPT"),
        "c_flipped.jpg": ("NOT_INSPECTED", "IMAGE_CORRUPT"),
        "d_bomb.png": ("NOT_INSPECTED", "IMAGE_TOO_LARGE"),
        "e_png_named.jpg": ("PASS", None),
        "f_grey16.png": ("PASS", None),
    }
