"""OpenCV source against a real video file and a real MJPEG-over-HTTP camera on loopback."""

from __future__ import annotations

import time
from pathlib import Path

import cv2
import numpy as np
import pytest

from inspect_app.config import OpenCVSourceConfig
from inspect_app.protocols import CorruptFrame, SourceError, SourceExhausted
from inspect_app.sources.camera_state import CameraState
from inspect_app.sources.opencv_source import OpenCVSource
from inspect_app.sources.video_file import VideoFileSource
from inspect_app.testing.fakes import wait_until
from inspect_app.testing.mjpeg_camera import MjpegCamera


def _write_video(path: Path, n: int) -> None:
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), 10, (64, 48))
    for i in range(n):
        writer.write(np.full((48, 64, 3), 20 * i, np.uint8))
    writer.release()


def test_video_file_frames_in_order_then_exhausted(tmp_path: Path) -> None:
    video = tmp_path / "line.avi"
    _write_video(video, 6)
    src = VideoFileSource(OpenCVSourceConfig(uri=str(video)), name="cam1")
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
    src = VideoFileSource(OpenCVSourceConfig(uri=str(video), loop=True))
    src.open()
    frames = [src.read(2.0) for _ in range(7)]
    assert [f.frame_id for f in frames] == list(range(1, 8))
    assert abs(float(frames[3].image.mean()) - float(frames[0].image.mean())) < 5


def test_missing_file_fails_to_open(tmp_path: Path) -> None:
    src = VideoFileSource(OpenCVSourceConfig(uri=str(tmp_path / "none.avi"), open_timeout_s=1.0))
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
    with pytest.raises(SourceError) as err:
        for _ in range(10):  # the last frames that changed may still be in flight
            src.read(1.0)
    assert err.value.code == "STALE"
    assert wait_until(lambda: src.status().state == CameraState.FROZEN, 5)
    src.close()


def test_stream_cut_then_reconnects_with_backoff(camera: MjpegCamera) -> None:
    src = OpenCVSource(_cfg(camera.url))
    src.open()
    first = src.read(1.0)
    camera.stop()
    assert wait_until(lambda: src.status().state == CameraState.LOST, 3.0)
    with pytest.raises(SourceError) as err:
        src.read(1.0)
    assert err.value.code in ("READ_FAILED", "DECODE_FAILED", "OPEN_FAILED", "OPEN_TIMEOUT", "NO_FRAMES")
    camera.start()  # plugged back in, same port
    assert wait_until(lambda: src.status().ok, 10.0), "source never reconnected"
    frame = src.read(1.0)
    assert frame.frame_id > first.frame_id  # ids stay monotonic across reconnects
    assert src.reconnects >= 1
    src.close()


def test_stream_hands_out_the_newest_frame_not_a_backlog(camera: MjpegCamera) -> None:
    src = OpenCVSource(_cfg(camera.url))
    src.open()
    src.read(1.0)
    time.sleep(1.0)  # the camera sends ~30 frames meanwhile; a buffered reader would get the oldest
    frame = src.read(1.0)
    assert time.monotonic() - frame.captured_mono < 0.2
    src.close()


def test_mjpeg_over_http_is_decoded_strictly_a_damaged_frame_is_corrupt(camera: MjpegCamera) -> None:
    src = OpenCVSource(_cfg(camera.url))
    src.open()
    src.read(1.0)
    camera.mode = "corrupt"
    codes = []
    for _ in range(10):
        try:
            src.read(1.0)
            codes.append("frame")
        except (CorruptFrame, SourceError) as exc:
            codes.append(exc.code)
    assert "IMAGE_CORRUPT" in codes and camera.corrupt_sent >= 1
    # once the damage arrives no damaged frame is a picture, and a run of them is a camera fault
    assert codes[-3:] == ["DAMAGED_FRAMES"] * 3
    assert src.status().state == CameraState.DAMAGED and not src.status().ok
    camera.mode = "live"
    assert wait_until(lambda: _reads_a_frame(src), 5)
    assert src.status().ok and src.corrupt_frames >= 3
    src.close()


def _reads_a_frame(src: OpenCVSource) -> bool:
    try:
        src.read(0.5)
    except (CorruptFrame, SourceError):
        return False
    return True


def test_http_that_is_not_mjpeg_is_left_to_opencv(tmp_path: Path) -> None:
    import http.server
    import threading

    from inspect_app.sources.mjpeg_http import MjpegHttpCapture

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self.send_response(200)
            self.send_header("Content-Type", "video/mp4")
            self.end_headers()

        def log_message(self, *args: object) -> None:
            pass

    server = http.server.HTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        url = f"http://127.0.0.1:{server.server_address[1]}/video.mp4"
        assert MjpegHttpCapture.connect(url, 2.0, 2.0) is None
    finally:
        server.shutdown()
