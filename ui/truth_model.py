"""A stand-in for the model before one is trained: the demo camera remembers each synthetic part's ground
truth and the stand-in model reports it as detections. Used by ``ui.screenshots`` and ``bench/bench_ui.py``
so they show real synthetic parts with boxes when ``models/`` has no default release yet."""

from __future__ import annotations

from collections import OrderedDict

import numpy as np

from inspect_app.config import StationConfig
from inspect_app.protocols import ModelInfo
from inspect_app.sources.synthetic import SyntheticSource
from inspect_app.station import Station
from inspect_app.synth.generator import CLASS_NAMES
from inspect_app.types import Detection, Frame


class TruthCamera(SyntheticSource):
    """The demo camera, remembering each frame's ground truth for TruthModel."""

    def __init__(self, *args: object, **kw: object) -> None:
        super().__init__(*args, **kw)  # type: ignore[arg-type]
        self.truth: OrderedDict[int, tuple] = OrderedDict()

    def read(self, timeout: float) -> Frame:
        frame = super().read(timeout)
        self.truth[id(frame.image)] = frame.truth or ()
        while len(self.truth) > 64:
            self.truth.popitem(last=False)
        return frame


class TruthModel:
    """Stands in for the model before one is trained: reports the generator's defects as detections."""

    def __init__(self, camera: TruthCamera) -> None:
        self.camera = camera
        self.info = ModelInfo("ground-truth/0", "ground-truth", "0", "0" * 64, CLASS_NAMES, (640, 640),
                              "<generator>", "fake")
        self._rng = np.random.default_rng(0)

    def detect(self, image: np.ndarray, conf: float, iou: float) -> list[Detection]:
        out = []
        for t in self.camera.truth.get(id(image), ()):
            c = float(self._rng.uniform(0.55, 0.98))
            if c >= conf:
                out.append(Detection(t.class_id, t.class_name, c, tuple(map(float, t.box))))
        return out

    def close(self) -> None:
        pass


def stand_in_station(cfg: StationConfig, **kw: object) -> Station:
    """The demo station with the ground-truth stand-in model for every recipe's model release."""
    camera = TruthCamera(cfg.source)
    model = TruthModel(camera)
    return Station(cfg, source=camera, detectors={r.model: model for r in cfg.recipes.values()}, **kw)
