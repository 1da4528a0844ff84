"""Station inference: load a verified model release and run it with one of three backends.

``onnxruntime`` and ``openvino`` run the exported ONNX file with numpy/OpenCV pre- and post-processing and
never import torch; ``ultralytics`` runs ``model.pt`` for development. Backend modules are imported only
when chosen, so a station without OpenVINO (or without torch) can still use the others.
"""

from __future__ import annotations

from pathlib import Path
from typing import Protocol

from inspect_app.model_release import ModelError, load_release, verify_onnx_shape
from inspect_app.protocols import Detector

BACKENDS = ("onnxruntime", "openvino", "ultralytics")
DEFAULT_FILE = {"onnxruntime": "model.onnx", "openvino": "model.onnx", "ultralytics": "model.pt"}

__all__ = ["BACKENDS", "DEFAULT_FILE", "Detector", "ModelError", "WarmDetector", "load_detector"]


class WarmDetector(Detector, Protocol):
    """What load_detector returns: a Detector that can also be warmed up before the first part."""

    threads: int

    def warmup(self) -> None: ...


def load_detector(
    model_dir: str | Path, backend: str, threads: int, file: str | None = None, precision: str = "f32"
) -> WarmDetector:
    """Load the release in ``model_dir``, verify the file the backend runs, and build the backend.

    Raises ModelError for anything wrong with the release or the model file (missing, tampered, not a
    model, wrong shape); the message is meant for the operator. Call ``warmup()`` before the first part.
    """
    if backend not in BACKENDS:
        raise ModelError(f"unknown detector backend '{backend}' (choose one of: {', '.join(BACKENDS)})")
    if threads < 1:
        raise ValueError(f"threads must be >= 1, got {threads}")
    file = file or DEFAULT_FILE[backend]
    release = load_release(model_dir, verify=[_listed(model_dir, file)])
    if backend == "ultralytics":
        from inspect_app.detector.ultralytics_backend import UltralyticsDetector

        return UltralyticsDetector(release, threads, file)
    if file.endswith(".onnx"):
        # a clear message for a wrong or corrupt file, before the runtime fails on it in its own words
        verify_onnx_shape(release, file)
    if backend == "onnxruntime":
        from inspect_app.detector.onnx_backend import OnnxRuntimeDetector

        return OnnxRuntimeDetector(release, threads, file)
    from inspect_app.detector.openvino_backend import OpenVinoDetector

    return OpenVinoDetector(release, threads, file, precision=precision)


def _listed(model_dir: str | Path, file: str) -> str:
    if Path(file).name != file:
        raise ModelError(f"detector file '{file}' must be a file name inside the release {model_dir}")
    return file
