"""Station inference: load a verified model release and run it with one of three backends.

``onnxruntime`` and ``openvino`` run the exported ONNX file (OpenVINO also the release's int8 model) with
numpy/OpenCV pre- and post-processing and never import torch; ``ultralytics`` runs ``model.pt`` for
development. Backend modules are imported only when chosen, so a station without OpenVINO (or without
torch) can still use the others.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Protocol

import numpy as np

from inspect_app.detector.precision import PrecisionChoice, candidates, choose
from inspect_app.detector.threads import ThreadPlan, plan
from inspect_app.model_release import ModelError, Release, load_release, verify_onnx_shape
from inspect_app.protocols import Detector
from inspect_app.types import Detection

BACKENDS = ("onnxruntime", "openvino", "ultralytics")
DEFAULT_FILE = {"onnxruntime": "model.onnx", "openvino": "model.onnx", "ultralytics": "model.pt"}
PRECISIONS = ("auto", "f32", "bf16", "int8")

__all__ = [
    "BACKENDS",
    "DEFAULT_FILE",
    "PRECISIONS",
    "Detector",
    "ModelError",
    "PrecisionChoice",
    "ThreadPlan",
    "WarmDetector",
    "load_detector",
    "plan",
]

log = logging.getLogger(__name__)


class WarmDetector(Detector, Protocol):
    """What load_detector returns: a Detector that can also be warmed up before the first part, and run
    many images for throughput (replays, evaluations)."""

    threads: int

    def warmup(self) -> None: ...

    def detect_many(
        self, images: Iterable[np.ndarray], conf: float, iou: float, multi_label: bool = False
    ) -> Iterator[list[Detection]]:
        """Detections of each image, in order; OpenVINO keeps several inferences in flight (on every stream
        with ``streams`` > 1), the others run one image after another. ``multi_label``: the validator's
        decode, for measuring mAP."""
        ...


def load_detector(
    model_dir: str | Path,
    backend: str,
    threads: int | None,
    file: str | None = None,
    precision: str = "f32",
    *,
    allow_bf16: bool = False,
    streams: int = 1,
    cache_dir: Path | None = None,
    under_load: bool = False,
) -> WarmDetector:
    """Load the release in ``model_dir``, verify the files the backend runs, and build the backend.

    ``precision``: ``f32``, ``bf16`` (OpenVINO; f32 where the CPU has no bf16 units), ``int8`` (OpenVINO,
    the release's int8 model) or ``auto`` (the fastest on this CPU of those offered, timed now; bf16 only
    with ``allow_bf16``; the choice is in ``precision_choice`` and ``info.precision``). ``threads`` None:
    the thread plan for the cores this process may use (``threads.plan``). ``streams`` > 1: OpenVINO's
    throughput mode, for replays and evaluations (``detect_many`` on ``plan().throughput_threads`` threads
    and ``plan().throughput_streams`` streams). ``cache_dir`` (the station's state dir ``cache/``): auto's
    choice is remembered there for the next start (``precision_memo``) and OpenVINO keeps its compiled
    models there (its own cache, keyed by the model and the compile settings). ``under_load``: a running
    line's inferences share the CPU with auto's timing (a model switch), so a choice timed now is used but
    not remembered; a remembered one is still used.

    Raises ModelError for anything wrong with the release or the model file (missing, tampered, not a
    model, wrong shape); the message is meant for the operator. Call ``warmup()`` before the first part.
    """
    if backend not in BACKENDS:
        raise ModelError(f"unknown detector backend '{backend}' (choose one of: {', '.join(BACKENDS)})")
    if precision not in PRECISIONS:
        raise ModelError(f"unknown precision '{precision}' (choose one of: {', '.join(PRECISIONS)})")
    if threads is None:
        threads = plan().threads
    if threads < 1:
        raise ValueError(f"threads must be >= 1, got {threads}")
    if precision in ("bf16", "int8") and backend != "openvino":
        raise ModelError(f"precision {precision} needs the openvino backend (backend is {backend})")
    if precision == "int8" and file is not None:
        raise ModelError("precision int8 runs the release's int8 model; do not name a file")
    if precision == "auto":
        return _auto(model_dir, backend, threads, file, allow_bf16, streams, cache_dir, under_load)
    if file is None and backend != "ultralytics":
        file = load_release(model_dir, verify=[]).precision("int8" if precision == "int8" else "f32").file
    file = file or DEFAULT_FILE[backend]
    release = load_release(model_dir, verify=_files_of(model_dir, file))
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

    return OpenVinoDetector(
        release, threads, file, precision=precision, streams=streams,
        cache_dir=cache_dir / "openvino" if cache_dir is not None else None,
    )  # fmt: skip


def _auto(
    model_dir: str | Path, backend: str, threads: int, file: str | None, allow_bf16: bool, streams: int,
    cache_dir: Path | None, under_load: bool = False,
) -> WarmDetector:  # fmt: skip
    release = load_release(model_dir, verify=[])
    names, skipped = candidates(release, backend, allow_bf16)
    if file is not None and "int8" in names:
        names.remove("int8")  # a named file is the model to run; int8 would be another one
        skipped.append(("int8", f"[detector] file = {file} names the model"))
    key = None
    if cache_dir is not None and len(names) > 1:
        from inspect_app.detector import precision_memo

        key = precision_memo.memo_key(release, names, skipped, file, threads, streams)
        remembered = precision_memo.recall(cache_dir, key)
        if remembered is not None and remembered.chosen in names:
            det = load_detector(model_dir, backend, threads, file, remembered.chosen, streams=streams,
                                cache_dir=cache_dir)  # fmt: skip
            det.precision_choice = remembered  # type: ignore[attr-defined]
            log.info("%s: %s", release.model_id, remembered.line())
            return det
    loaded: dict[str, WarmDetector] = {}
    try:
        for p in names:
            det = load_detector(model_dir, backend, threads, file, p, streams=streams, cache_dir=cache_dir)
            det.warmup()
            loaded[p] = det
        # bf16 asked for on a CPU that computes it in f32 would be timed as a second f32: drop it
        if "bf16" in loaded and loaded["bf16"].info.precision != "bf16":
            loaded.pop("bf16").close()
            skipped.append(("bf16", "OpenVINO runs it in f32 on this CPU"))
        image = _timing_image(release)
        # each runtime's own input for the same image: the timing is of the runtime call alone
        inputs = {p: det._prepare(image)[0] for p, det in loaded.items()}  # type: ignore[attr-defined]
        chosen, medians, rounds = choose(loaded, lambda p, d: d._infer(inputs[p]))  # type: ignore[attr-defined]
    except BaseException:
        for det in loaded.values():
            det.close()
        raise
    for p, det in loaded.items():
        if p != chosen:
            det.close()
    result = loaded[chosen]
    choice = PrecisionChoice(chosen, medians, rounds, tuple(skipped), under_load=under_load)
    result.precision_choice = choice  # type: ignore[attr-defined]
    log.info("%s: %s", release.model_id, choice.line())
    if key is not None and cache_dir is not None and not under_load:
        from inspect_app.detector import precision_memo

        precision_memo.remember(cache_dir, key, choice)
    return result


def _timing_image(release: Release) -> np.ndarray:
    """A fixed, textured frame: a constant image could take shortcuts no camera frame takes."""
    h, w = release.imgsz
    return np.random.default_rng(0).integers(0, 256, (h, w, 3), dtype=np.uint8)


def _files_of(model_dir: str | Path, file: str) -> list[str]:
    """The file the backend opens and, for an OpenVINO IR, the weights it reads beside it."""
    if Path(file).name != file:
        raise ModelError(f"detector file '{file}' must be a file name inside the release {model_dir}")
    if file.endswith(".xml"):
        return [file, file[: -len(".xml")] + ".bin"]
    return [file]
