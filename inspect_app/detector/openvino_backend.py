"""OpenVINO backend (CPU), compiling the release's ONNX file directly (no separate IR step)."""

from __future__ import annotations

import numpy as np

from inspect_app.detector.postprocess import ArrayDetector
from inspect_app.model_release import ModelError, Release


class OpenVinoDetector(ArrayDetector):
    backend = "openvino"

    def __init__(
        self, release: Release, threads: int, file: str = "model.onnx", precision: str = "f32"
    ) -> None:
        import openvino as ov  # configure_offline has set OPENVINO_TELEMETRY_OPT_OUT / CI before this

        path = release.file(file)
        config = {
            "INFERENCE_NUM_THREADS": threads,
            "PERFORMANCE_HINT": "LATENCY",
            # CPUs with AVX512-BF16/AMX would default to bf16, which moves boxes and confidences away from
            # what the model was validated with: f32 unless the recipe owner chose bf16 for speed
            # (measured in docs/performance.md: ~1.7x faster, confidences within 0.01)
            "INFERENCE_PRECISION_HINT": precision,
        }
        try:
            self._core = ov.Core()
            model = self._core.read_model(str(path))
            self._compiled = self._core.compile_model(model, "CPU", config)
        except Exception as exc:
            raise ModelError(f"{path}: OpenVINO cannot load the model: {_first_line(exc)}") from exc
        self._request = self._compiled.create_infer_request()
        self.threads = threads
        self.info = release.model_info(file, self.backend)

    def get_property(self, name: str):  # for diagnostics and tests: what the compiled model really uses
        return self._compiled.get_property(name)

    def _infer(self, blob: np.ndarray) -> np.ndarray:
        self._request.infer({0: blob})
        # copy: the output tensor is reused by the next infer() call
        return np.array(self._request.get_output_tensor(0).data, copy=True)

    def close(self) -> None:
        self._request = None  # type: ignore[assignment]
        self._compiled = None  # type: ignore[assignment]


def _first_line(exc: BaseException) -> str:
    # OpenVINO prefixes its reason with a stack of "Exception from <source file>:<line>:" lines
    lines = [ln.strip() for ln in str(exc).splitlines()]
    useful = [ln for ln in lines if ln and not ln.startswith("Exception from ")]
    return " ".join(useful) or type(exc).__name__
