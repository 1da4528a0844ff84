"""ONNX Runtime backend (CPU)."""

from __future__ import annotations

import numpy as np

from inspect_app.detector.postprocess import ArrayDetector
from inspect_app.model_release import ModelError, Release


class OnnxRuntimeDetector(ArrayDetector):
    backend = "onnxruntime"

    def __init__(self, release: Release, threads: int, file: str = "model.onnx") -> None:
        import onnxruntime as ort  # imported here so an OpenVINO-only station never loads it

        path = release.file(file)
        opts = ort.SessionOptions()
        opts.intra_op_num_threads = threads
        # one model, one request at a time: a second inter-op pool would only compete for the same cores
        opts.inter_op_num_threads = 1
        opts.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
        opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        # ORT's idle workers spin-wait by default; on a small line PC that steals the cores acquisition,
        # the store and the UI need between parts, for a latency gain below a millisecond
        opts.add_session_config_entry("session.intra_op.allow_spinning", "0")
        opts.log_severity_level = 3  # errors only; warnings about unused initializers are noise for operators
        try:
            self._session = ort.InferenceSession(str(path), opts, providers=["CPUExecutionProvider"])
        except Exception as exc:
            raise ModelError(f"{path}: ONNX Runtime cannot load the model: {_first_line(exc)}") from exc
        self._input = self._session.get_inputs()[0].name
        self._output = self._session.get_outputs()[0].name
        self.threads = threads
        self.info = release.model_info(file, self.backend)

    @property
    def session_options(self):  # for diagnostics and tests: the options the session really uses
        return self._session.get_session_options()

    def _infer(self, blob: np.ndarray) -> np.ndarray:
        return self._session.run([self._output], {self._input: blob})[0]

    def close(self) -> None:
        self._session = None  # type: ignore[assignment]  # releases the arena; detect() after close fails loudly


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return text[0] if text else type(exc).__name__
