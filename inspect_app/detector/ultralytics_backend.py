"""Development backend: runs the release's ``model.pt`` through ultralytics (imports torch).

Never used by a station install (it has no torch); it exists so a freshly trained checkpoint can be tried
in the full pipeline before export, and as the reference the exported models are compared with.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Iterator

import numpy as np

from inspect_app.detector.postprocess import MAX_DET, check_thresholds
from inspect_app.detector.preprocess import as_bgr
from inspect_app.model_release import ModelError, Release
from inspect_app.types import Detection


class UltralyticsDetector:
    backend = "ultralytics"

    def __init__(self, release: Release, threads: int, file: str = "model.pt") -> None:
        if os.environ.get("YOLO_OFFLINE") != "1":
            # without it ultralytics writes to ~/.config and tries to download fonts on a line PC
            raise RuntimeError("call inspect_app.offline.configure_offline() before the ultralytics backend")
        path = release.file(file)
        import torch
        from ultralytics import YOLO

        self.threads = threads
        self._torch = torch
        torch.set_num_threads(threads)  # ultralytics sets 1 on import on small machines
        try:
            self._model = YOLO(str(path), task="detect")
        except Exception as exc:
            raise ModelError(f"{path}: ultralytics cannot load the checkpoint: {exc}") from exc
        names = tuple(self._model.names[i] for i in sorted(self._model.names))
        if names != release.names:
            raise ModelError(f"{path}: class names in the checkpoint {list(names)} differ from the manifest")
        self.info = release.model_info(file, self.backend)

    def detect(self, image: np.ndarray, conf: float, iou: float) -> list[Detection]:
        check_thresholds(conf, iou)
        result = self._model.predict(
            as_bgr(image),
            imgsz=list(self.info.imgsz),
            conf=conf,
            iou=iou,
            max_det=MAX_DET,
            # rect=False: letterbox to the full imgsz like the fixed-shape ONNX the station runs, so the
            # .pt and the exported model see the same input (predict() defaults to a minimal rectangle)
            rect=False,
            device="cpu",
            verbose=False,
        )[0]
        if self._torch.get_num_threads() != self.threads:
            self._torch.set_num_threads(self.threads)  # the first predict() resets it in select_device()
        boxes = result.boxes
        xyxy = boxes.xyxy.cpu().numpy()
        confs = boxes.conf.cpu().numpy()
        classes = boxes.cls.cpu().numpy().astype(int)
        return [
            Detection(
                int(c),
                self.info.names[int(c)],
                float(s),
                (float(b[0]), float(b[1]), float(b[2]), float(b[3])),
            )
            for b, s, c in zip(xyxy, confs, classes, strict=True)
        ]

    def detect_many(
        self, images: Iterable[np.ndarray], conf: float, iou: float, multi_label: bool = False
    ) -> Iterator[list[Detection]]:
        """One image after another (the development backend has no requests in flight)."""
        if multi_label:
            raise ValueError("the ultralytics backend decodes one label per box; measure mAP with YOLO.val()")
        for image in images:
            yield self.detect(image, conf, iou)

    def warmup(self) -> None:
        h, w = self.info.imgsz
        self.detect(np.full((h, w, 3), 114, np.uint8), 0.99, 0.7)

    def close(self) -> None:
        self._model = None  # type: ignore[assignment]
