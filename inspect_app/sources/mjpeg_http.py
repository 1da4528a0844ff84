"""MJPEG over HTTP read by the station itself, so every frame is decoded strictly.

Many network and industrial cameras serve ``multipart/x-mixed-replace`` JPEG streams over HTTP. Through
OpenCV, FFmpeg's MJPEG decoder conceals a damaged frame (grey blocks, a smeared defect) and hands it on as
if it were whole; here each part's JPEG bytes go through ``decode.decode_image`` like a file's, and a damaged
one is a ``CorruptFrame`` (the part that gets it is NOT_INSPECTED ``IMAGE_CORRUPT``), never a picture.

The reader has the two calls of ``cv2.VideoCapture`` the grabber uses (``grab``/``retrieve``), and ``connect``
returns None for an HTTP URL that is not an MJPEG stream (an MP4, HLS): those stay with OpenCV.
"""

from __future__ import annotations

import base64
import http.client
from urllib.parse import unquote, urlsplit

import numpy as np

from inspect_app.protocols import SourceError
from inspect_app.sources.decode import decode_image

_MAX_PART = 64 * 1024 * 1024  # a JPEG larger than this is not a camera frame
_MAX_HEADER_LINES = 32


class MjpegHttpCapture:
    def __init__(self, conn: http.client.HTTPConnection, resp: http.client.HTTPResponse, boundary: bytes,
                 origin: str, max_pixels: int) -> None:  # fmt: skip
        self._conn, self._resp, self._boundary = conn, resp, boundary
        self._origin, self._max_pixels = origin, max_pixels
        self._data: bytes | None = None
        self.parts = 0

    @classmethod
    def connect(cls, url: str, open_timeout: float, read_timeout: float, max_pixels: int = 50_000_000
                ) -> MjpegHttpCapture | None:  # fmt: skip
        """Open the stream; None when the server answers with something that is not MJPEG. Raises
        SourceError (OPEN_FAILED, OPEN_TIMEOUT) when it cannot be reached or refuses."""
        parts = urlsplit(url)
        kind = http.client.HTTPSConnection if parts.scheme == "https" else http.client.HTTPConnection
        conn = kind(parts.hostname or "", parts.port, timeout=open_timeout)
        headers = {"User-Agent": "inspect-app", "Accept": "multipart/x-mixed-replace, image/jpeg"}
        if parts.username is not None:
            token = f"{unquote(parts.username)}:{unquote(parts.password or '')}".encode()
            headers["Authorization"] = "Basic " + base64.b64encode(token).decode()
        path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
        label = _safe(url)
        try:
            conn.request("GET", path, headers=headers)
            resp = conn.getresponse()
        except TimeoutError:
            conn.close()
            raise SourceError("OPEN_TIMEOUT", f"{label}: no answer within {open_timeout:g}s") from None
        except (OSError, http.client.HTTPException) as exc:
            conn.close()
            raise SourceError("OPEN_FAILED", f"{label}: {exc}") from None
        if resp.status != 200:
            conn.close()
            raise SourceError("OPEN_FAILED", f"{label}: HTTP {resp.status} {resp.reason}")
        ctype = resp.getheader("Content-Type", "")
        if not ctype.lower().startswith("multipart/"):
            conn.close()
            return None
        boundary = next((p.split("=", 1)[1].strip().strip('"') for p in ctype.split(";")
                         if p.strip().lower().startswith("boundary=")), "")  # fmt: skip
        if not boundary:
            conn.close()
            raise SourceError("OPEN_FAILED", f"{label}: multipart stream without a boundary")
        if conn.sock is not None:
            conn.sock.settimeout(read_timeout)
        b = boundary.encode()
        return cls(conn, resp, b if b.startswith(b"--") else b"--" + b, label, max_pixels)

    def isOpened(self) -> bool:  # cv2.VideoCapture's name
        return True

    def grab(self) -> bool:
        """Read the next part's bytes; False when the stream ended or stalled past the read timeout."""
        try:
            self._data = self._next_part()
        except (OSError, http.client.HTTPException, ValueError):
            self._data = None
        return self._data is not None

    def retrieve(self) -> tuple[bool, np.ndarray]:
        """The grabbed part, decoded strictly: raises CorruptFrame for a damaged JPEG."""
        if self._data is None:
            return False, np.empty(0)
        self.parts += 1
        return True, decode_image(self._data, f"{self._origin} part {self.parts}", self._max_pixels)

    def release(self) -> None:
        self._conn.close()

    def set(self, _prop: int, _value: float) -> bool:
        return False  # a stream's size and rate are the camera's settings

    def _next_part(self) -> bytes | None:
        fp = self._resp
        line = fp.readline(1024)
        while line and not line.startswith(self._boundary):  # the CRLF after the previous part, preamble
            if not line.strip():
                line = fp.readline(1024)
                continue
            raise ValueError(f"expected the boundary, got {line[:40]!r}")
        if not line or line.strip().endswith(b"--"):
            return None
        length = None
        for _ in range(_MAX_HEADER_LINES):
            header = fp.readline(1024)
            if not header:
                return None
            if not header.strip():
                break
            name, _, value = header.decode("latin-1").partition(":")
            if name.strip().lower() == "content-length":
                length = int(value.strip())
        if length is None:
            return self._read_to_boundary()
        if not 0 < length <= _MAX_PART:
            raise ValueError(f"part of {length} bytes")
        data = fp.read(length)
        return data if len(data) == length else None

    def _read_to_boundary(self) -> bytes | None:
        """Parts without Content-Length: everything up to the next boundary line."""
        chunks: list[bytes] = []
        size = 0
        while True:
            line = self._resp.readline(65536)
            if not line:
                return None
            if line.startswith(self._boundary):
                self._resp_pushback(line)
                data = b"".join(chunks)
                return data[:-2] if data.endswith(b"\r\n") else data
            chunks.append(line)
            size += len(line)
            if size > _MAX_PART:
                raise ValueError("part larger than any camera frame")

    def _resp_pushback(self, line: bytes) -> None:
        # HTTPResponse has no unread(): remember the boundary line for the next _next_part
        original = self._resp.readline

        def once(limit: int = -1) -> bytes:
            self._resp.readline = original  # type: ignore[method-assign]
            return line

        self._resp.readline = once  # type: ignore[method-assign]


def is_http(uri: int | str) -> bool:
    return isinstance(uri, str) and uri.lower().startswith(("http://", "https://"))


def _safe(url: str) -> str:
    """The URL without its password, for messages."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    return url.replace(f":{parts.password}@", ":***@", 1)

