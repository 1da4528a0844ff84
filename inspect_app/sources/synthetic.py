"""The demo camera: synthetic parts with ground truth, optionally paced to a frame rate."""

from __future__ import annotations

import time

from inspect_app.config import SyntheticSourceConfig
from inspect_app.protocols import SourceError
from inspect_app.sources.pacing import Pacer
from inspect_app.synth.generator import PartGenerator
from inspect_app.types import Frame


class SyntheticSource:
    """A ``FrameSource`` that renders part ``index`` 0, 1, 2, ... of the configured generator.

    Frame ids and part indices continue across close/open, so a reopen after an error never repeats a
    frame id within the process.
    """

    def __init__(self, config: SyntheticSourceConfig, name: str = "synthetic") -> None:
        self.config = config
        self.name = name
        self._generator: PartGenerator | None = None
        self._pacer = Pacer(config.rate_hz)
        self._frame_id = 0
        self._index = 0
        self._open = False

    def open(self) -> None:
        if self._generator is None:  # kept across reopen: its cached layouts are the expensive part
            c = self.config
            self._generator = PartGenerator(c.style, c.width, c.height, c.seed, c.defect_rate, zoom=c.zoom)
        self._open = True

    def read(self, timeout: float) -> Frame:
        # Pacing may sleep longer than ``timeout``: like the folder source, a paced synthetic camera is
        # slow by design, not failing, and must not be reported as a timeout.
        if not self._open or self._generator is None:
            raise SourceError("NOT_OPEN", f"source {self.name} is not open")
        self._pacer.wait()
        # the exposure instant is the paced tick; rendering afterwards is the "sensor readout"
        captured_at, captured_mono = time.time(), time.monotonic()
        index = self._index
        part = self._generator.generate(index)
        self._index += 1
        self._frame_id += 1
        return Frame(
            frame_id=self._frame_id,
            image=part.image,
            source=self.name,
            captured_at=captured_at,
            captured_mono=captured_mono,
            truth=part.truth,
            origin=f"synthetic:{self.config.seed}:{index}",
        )

    def close(self) -> None:
        self._open = False
