"""A scripted network camera: a real MJPEG-over-HTTP server on 127.0.0.1.

Its script can freeze the picture (the same frame sent again and again, as a stalled encoder does), send
damaged JPEGs (``corrupt``: cut short with an end marker appended, as a lossy link delivers them), cut the
link (close every connection), or go away entirely, so the OpenCV source's staleness detection, strict
decoding and reconnect logic are tested against the real protocol and the real decoder. ``frames`` can
supply the pictures (a function of the frame counter), e.g. synthetic boards for a soak test.
"""

from __future__ import annotations

import http.server
import socketserver
import threading
import time
from collections.abc import Callable

import cv2
import numpy as np


class _Server(socketserver.ThreadingMixIn, http.server.HTTPServer):
    daemon_threads = True
    allow_reuse_address = True


class MjpegCamera:
    def __init__(
        self,
        width: int = 64,
        height: int = 48,
        fps: float = 30.0,
        port: int = 0,
        frames: Callable[[int], np.ndarray] | None = None,
    ) -> None:
        self.width, self.height, self.period = width, height, 1.0 / fps
        self.frames = frames
        self.mode = "live"  # "live" | "freeze" | "corrupt" | "cut"
        self.frames_sent = 0
        self.corrupt_sent = 0
        self._port = port
        self._server: _Server | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._port}/stream.mjpg"

    def start(self) -> MjpegCamera:
        camera = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                self.send_response(200)
                self.send_header("Content-Type", "multipart/x-mixed-replace; boundary=frame")
                self.end_headers()
                counter = 0
                while camera.mode != "cut":
                    mode = camera.mode
                    if mode != "freeze":
                        counter += 1
                    data = cv2.imencode(".jpg", camera.picture(counter))[1].tobytes()
                    if mode == "corrupt":
                        data = data[: len(data) // 2] + b"\xff\xd9"
                        camera.corrupt_sent += 1
                    head = b"--frame\r\nContent-Type: image/jpeg\r\nContent-Length: %d\r\n\r\n" % len(data)
                    try:
                        self.wfile.write(head + data + b"\r\n")
                    except OSError:
                        return
                    camera.frames_sent += 1
                    time.sleep(camera.period)

            def log_message(self, *args: object) -> None:
                pass

        self._server = _Server(("127.0.0.1", self._port), Handler)
        self._port = self._server.server_address[1]
        threading.Thread(target=self._server.serve_forever, name="mjpeg-camera", daemon=True).start()
        self.mode = "live"
        return self

    def picture(self, counter: int) -> np.ndarray:
        if self.frames is not None:
            return self.frames(counter)
        img = np.full((self.height, self.width, 3), (counter * 7) % 250, np.uint8)
        cv2.putText(img, str(counter), (2, self.height - 4), cv2.FONT_HERSHEY_PLAIN, 1, (255, 255, 255))
        return img

    def stop(self) -> None:
        """Unplug: close the live connections and stop listening (the port stays known for restart)."""
        self.mode = "cut"
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None
        time.sleep(self.period * 2)
