"""Replay images from a directory: sorted, once or looping, at a configurable rate."""

from __future__ import annotations

import time
from pathlib import Path

from inspect_app.config import FolderSourceConfig
from inspect_app.protocols import CorruptFrame, SourceError, SourceExhausted
from inspect_app.sources.decode import decode_image
from inspect_app.sources.pacing import Pacer
from inspect_app.types import Frame

IMAGE_SUFFIXES = {".jpg", ".jpeg", ".png", ".bmp", ".tif", ".tiff", ".webp"}


def list_images(config: FolderSourceConfig) -> list[Path]:
    return sorted(
        p for p in config.path.glob(config.pattern) if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES
    )


class FolderSource:
    """A ``FrameSource`` over the image files of one directory (sorted by name)."""

    def __init__(self, config: FolderSourceConfig, name: str = "folder") -> None:
        self.config = config
        self.name = name
        self._files: list[Path] = []
        self._pos = 0
        self._frame_id = 0
        self._pacer = Pacer(config.rate_hz)
        self._open = False

    def open(self) -> None:
        root = self.config.path
        if not root.is_dir():
            raise SourceError("NOT_FOUND", f"image folder {root} does not exist")
        self._files = list_images(self.config)
        if not self._files:
            raise SourceError("EMPTY", f"no images matching {self.config.pattern!r} in {root}")
        self._pos = 0
        self._open = True

    def read(self, timeout: float) -> Frame:
        if not self._open:
            raise SourceError("NOT_OPEN", f"source {self.name} is not open")
        if self._pos >= len(self._files):
            if not self.config.loop:
                raise SourceExhausted(f"all {len(self._files)} images of {self.config.path} replayed")
            self._pos = 0
        path = self._files[self._pos]
        self._pos += 1
        self._pacer.wait()
        self._frame_id += 1
        try:
            size = path.stat().st_size
            if size > self.config.max_image_pixels * 8 + (1 << 20):  # beyond any encoding of that many pixels
                raise CorruptFrame(
                    str(path), f"file of {size} bytes, too large for max_image_pixels", code="IMAGE_TOO_LARGE"
                )
            data = path.read_bytes()
        except OSError as exc:
            raise CorruptFrame(str(path), f"cannot read: {exc.strerror}") from None
        image = decode_image(data, str(path), self.config.max_image_pixels)
        return Frame(
            frame_id=self._frame_id,
            image=image,
            source=self.name,
            captured_at=time.time(),
            captured_mono=time.monotonic(),
            origin=str(path),
        )

    def close(self) -> None:
        self._open = False
