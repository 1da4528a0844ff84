"""OpenCV source against a real video file and a real MJPEG-over-HTTP camera on loopback."""

from __future__ import annotations

import time
from pathlib import Path

import cv2
import numpy as np
import pytest

from inspect_app.config import OpenCVSourceConfig
from inspect_app.protocols import SourceError, SourceExhausted
from inspect_app.sources.opencv_source import OpenCVSource
from inspect_app.testing.mjpeg_camera import MjpegCamera


def _write_video(path: Path, n: int) -> None:
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), 10, (64, 48))
    for i in range(n):
        writer.write(np.full((48, 64, 3), 20 * i, np.uint8))
    writer.release()


def test_video_file_frames_in_order_then_exhausted(tmp_path: Path) -> None:
    video = tmp_path / "line.avi"
    _write_video(video, 6)
    src = OpenCVSource(OpenCVSourceConfig(uri=str(video)), name="cam1")
    src.open()
    frames = [src.read(2.0) for _ in range(6)]
    assert [f.frame_id for f in frames] == [1, 2, 3, 4, 5, 6]
    assert all(f.source == "cam1" and f.image.shape == (48, 64, 3) for f in frames)
    means = [float(f.image.mean()) for f in frames]
    assert means == sorted(means) and means[-1] > means[0] + 50  # really different frames, in order
    with pytest.raises(SourceExhausted):
        src.read(2.0)


def test_video_file_loops(tmp_path: Path) -> None:
    video = tmp_path / "line.avi"
    _write_video(video, 3)
    src = OpenCVSource(OpenCVSourceConfig(uri=str(video), loop=True))
    src.open()
    frames = [src.read(2.0) for _ in range(7)]
    assert [f.frame_id for f in frames] == list(range(1, 8))
    assert abs(float(frames[3].image.mean()) - float(frames[0].image.mean())) < 5


def test_missing_file_fails_to_open(tmp_path: Path) -> None:
    src = OpenCVSource(OpenCVSourceConfig(uri=str(tmp_path / "none.avi"), open_timeout_s=1.0))
    with pytest.raises(SourceError) as err:
        src.open()
    assert err.value.code == "OPEN_FAILED"


@pytest.fixture
def camera() -> MjpegCamera:
    cam = MjpegCamera().start()
    yield cam
    cam.stop()


def _cfg(url: str) -> OpenCVSourceConfig:
    return OpenCVSourceConfig(uri=url, open_timeout_s=2.0, read_timeout_s=1.0, stale_after=3,
                              reconnect_min_s=0.1, reconnect_max_s=0.4)


def test_stream_frozen_picture_is_detected_as_stale(camera: MjpegCamera) -> None:
    src = OpenCVSource(_cfg(camera.url))
    src.open()
    for _ in range(3):
        src.read(1.0)
    camera.mode = "freeze"
    src.read(1.0)  # the last frame that changed may still be in flight
    with pytest.raises(SourceError) as err:
        for _ in range(10):
            src.read(1.0)
    assert err.value.code == "STALE"
    src.close()


def test_stream_cut_then_reconnects_with_backoff(camera: MjpegCamera) -> None:
    src = OpenCVSource(_cfg(camera.url))
    src.open()
    first = src.read(1.0)
    camera.stop()
    codes = []
    for _ in range(20):
        try:
            src.read(1.0)
        except SourceError as exc:
            codes.append(exc.code)
            if exc.code in ("OPEN_FAILED", "OPEN_TIMEOUT"):
                break
        time.sleep(0.15)
    assert codes[0] in ("READ_FAILED", "DECODE_FAILED")
    assert "OPEN_FAILED" in codes or "OPEN_TIMEOUT" in codes  # it did try to reconnect
    camera.start()  # plugged back in, same port
    deadline = time.monotonic() + 10
    frame = None
    while frame is None and time.monotonic() < deadline:
        try:
            frame = src.read(1.0)
        except SourceError:
            time.sleep(0.1)
    assert frame is not None, "source never reconnected"
    assert frame.frame_id > first.frame_id  # ids stay monotonic across reconnects
    assert src.reconnects >= 1
    src.close()
