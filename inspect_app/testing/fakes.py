"""Scripted fakes for the camera and the model, for tests of the pipeline's failure paths."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterable

import numpy as np

from inspect_app.protocols import ModelInfo, SourceError, SourceExhausted
from inspect_app.types import Detection, Frame

DEFECT_MARK = 255  # a frame whose top-left pixel is this value "contains" a defect for ScriptedDetector


def wait_until(pred: Callable[[], bool], timeout: float = 10.0) -> bool:
    """Poll ``pred`` until it holds or ``timeout`` passes; the tests' way to wait on other threads."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if pred():
            return True
        time.sleep(0.02)
    return pred()


class ScriptedSource:
    """Plays a script: each item is an image (a frame), an exception (raised once), or a float (a hang of
    that many seconds before the next item). ``loop`` replays the script; otherwise it is exhausted."""

    def __init__(
        self, script: Iterable[object], name: str = "scripted", loop: bool = False, fail_open: int = 0
    ) -> None:
        self.script = list(script)
        self.name = name
        self.loop = loop
        self.fail_open = fail_open  # the first N open() calls fail, like a camera not yet powered
        self.opens = 0
        self._pos = 0
        self._frame_id = 0
        self._open = False

    def open(self) -> None:
        self.opens += 1
        if self.opens <= self.fail_open:
            raise SourceError("OPEN_FAILED", f"{self.name}: not powered (scripted)")
        self._open = True

    def read(self, timeout: float) -> Frame:
        if not self._open:
            raise SourceError("NOT_OPEN", f"{self.name} is not open")
        while True:
            if self._pos >= len(self.script):
                if not self.loop:
                    raise SourceExhausted(f"{self.name}: script finished")
                self._pos = 0
            item = self.script[self._pos]
            self._pos += 1
            if isinstance(item, float):
                time.sleep(item)
                continue
            if isinstance(item, BaseException):
                if isinstance(item, SourceError):
                    self._open = False
                raise item
            self._frame_id += 1
            return Frame(
                self._frame_id,
                np.asarray(item),
                self.name,
                time.time(),
                time.monotonic(),
                origin=f"{self.name}:{self._pos - 1}",
            )

    def close(self) -> None:
        self._open = False


def part_image(defect: bool, shape: tuple[int, int] = (64, 64)) -> np.ndarray:
    img = np.full((*shape, 3), 100, np.uint8)
    if defect:
        img[0, 0] = DEFECT_MARK
    return img


class ScriptedDetector:
    """Reports one 'short' at a fixed box when the frame's top-left pixel is DEFECT_MARK.
    ``hang`` makes the next call block until released; ``fail_next`` makes calls raise."""

    def __init__(
        self,
        names: tuple[str, ...] = ("scratch", "pit", "open", "short"),
        rule: Callable[[np.ndarray], list[Detection]] | None = None,
        model_id: str = "fake/1",
    ) -> None:
        name, version = model_id.split("/")
        self.info = ModelInfo(model_id, name, version, "0" * 64, names, (64, 64), "<memory>", "fake")
        self.rule = rule or self._mark_rule
        self.calls = 0
        self.fail_next = 0
        self._release = threading.Event()
        self._release.set()
        self.closed = False

    def _mark_rule(self, image: np.ndarray) -> list[Detection]:
        if int(image[0, 0, 0]) == DEFECT_MARK:
            cls = len(self.info.names) - 1
            return [Detection(cls, self.info.names[cls], 0.9, (10.0, 10.0, 30.0, 20.0))]
        return []

    def hang(self) -> None:
        self._release.clear()

    def release(self) -> None:
        self._release.set()

    def detect(self, image: np.ndarray, conf: float, iou: float) -> list[Detection]:
        self.calls += 1
        self._release.wait()
        if self.fail_next:
            self.fail_next -= 1
            raise RuntimeError("scripted inference failure")
        return [d for d in self.rule(image) if d.confidence >= conf]

    def close(self) -> None:
        self.closed = True
