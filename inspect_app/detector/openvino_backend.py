"""OpenVINO backend (CPU): the release's ONNX file compiled directly (no separate IR step), or its int8 IR.

The conversion after the letterbox (BGR -> RGB, HWC -> CHW, uint8 -> float32 / 255) is added to the graph
(OpenVINO's PrePostProcessor), so the runtime takes the letterboxed uint8 image: fused into the first layer
it costs next to nothing, where numpy needed 0.3-0.5 ms per 320x320 frame, a tenth of an int8 inference.

Inference requests form a small pool, so a caller may start one part's inference and, while it runs,
pre-process the next part or post-process the previous one (``begin``); the letterbox is written straight
into the request's own input tensor. ``streams`` > 1 runs that many inferences side by side, each on its
share of the threads: more parts per second, a longer wait for each, so it is for free-run lines, replays
and evaluations, not for a part the line waits on.
"""

from __future__ import annotations

import logging
from collections import deque
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from inspect_app.detector import blob_ledger
from inspect_app.detector.postprocess import ArrayDetector, Pending, check_thresholds
from inspect_app.detector.preprocess import Letterbox, as_bgr, letterbox, letterbox_into
from inspect_app.model_release import ModelError, Release
from inspect_app.types import Detection

log = logging.getLogger(__name__)

HINTS = {"f32": "f32", "bf16": "bf16", "int8": "f32"}


class OpenVinoDetector(ArrayDetector):
    backend = "openvino"

    def __init__(
        self,
        release: Release,
        threads: int,
        file: str = "model.onnx",
        precision: str = "f32",
        *,
        streams: int = 1,
        slots: int = 2,
        cache_dir: Path | None = None,
    ) -> None:
        import openvino as ov  # configure_offline has set OPENVINO_TELEMETRY_OPT_OUT / CI before this

        if precision not in HINTS:
            raise ModelError(f"unknown precision '{precision}' (choose one of: {', '.join(HINTS)})")
        path = release.file(file)
        config: dict[str, object] = {
            "INFERENCE_NUM_THREADS": threads,
            # CPUs with AVX512-BF16/AMX would default to bf16, which moves boxes and confidences away from
            # what the model was validated with: f32 unless the recipe owner chose bf16 for speed
            # (measured in docs/performance.md: ~1.7x faster, confidences within 0.01). An int8 model keeps
            # its unquantized layers in f32 too: its accuracy gate was measured that way.
            "INFERENCE_PRECISION_HINT": HINTS[precision],
        }
        if streams > 1:
            config.update(PERFORMANCE_HINT="THROUGHPUT", NUM_STREAMS=streams)
        else:
            config["PERFORMANCE_HINT"] = "LATENCY"
        try:
            self._core = ov.Core()
            model = self._core.read_model(str(path))
            _check_shapes(model, release, path)
            model = _with_conversion(model)
            self._compiled = _compile(self._core, model, config, cache_dir)
        except ModelError:
            raise
        except Exception as exc:
            raise ModelError(f"{path}: OpenVINO cannot load the model: {_first_line(exc)}") from exc
        # two requests per stream: each stream computes while Python prepares its next part and finishes its
        # last (measured: +5-9 % parts/s over one per stream, bench/results/thread_plan_16core_xeon.json)
        # the streams OpenVINO really made: it quietly gives fewer than asked when threads are fewer
        self.streams = int(self._compiled.get_property("NUM_STREAMS")) if streams > 1 else 1
        self.slots = max(slots, 2 * self.streams if self.streams > 1 else 1)
        self._free = deque(_Slot(self._compiled.create_infer_request()) for _ in range(self.slots))
        self.threads = threads
        self.info = release.model_info(file, self.backend, _effective(precision, self._compiled))

    def get_property(self, name: str):  # for diagnostics and tests: what the compiled model really uses
        return self._compiled.get_property(name)

    def _prepare(self, image: np.ndarray) -> tuple[np.ndarray, Letterbox]:
        padded, lb = letterbox(as_bgr(image), self.info.imgsz)
        return np.ascontiguousarray(padded[None]), lb

    def begin(self, image: np.ndarray, conf: float, iou: float, multi_label: bool = False) -> Pending:
        """As ``ArrayDetector.begin``, with the letterbox written straight into the request's input tensor."""
        check_thresholds(conf, iou)
        slot = self._take()
        try:
            lb = letterbox_into(as_bgr(image), slot.input)
            slot.request.start_async()
        except BaseException:
            self._free.append(slot)  # a frame the station refuses must not cost a request
            raise
        return Pending(self, slot, lb, conf, iou, multi_label)

    def _take(self) -> _Slot:
        if self._compiled is None:
            raise RuntimeError("the detector is closed")
        if not self._free:
            raise RuntimeError(f"all {self.slots} inference requests are in flight; finish one first")
        return self._free.popleft()

    def _start(self, blob: np.ndarray) -> _Slot:
        """``blob``: what ``_prepare`` returns, (1, h, w, 3) uint8."""
        slot = self._take()
        try:
            if blob.shape != (1, *slot.input.shape) or blob.dtype != np.uint8:
                want = [1, *slot.input.shape]
                raise ValueError(f"input must be uint8 {want}, got {blob.dtype} {list(blob.shape)}")
            np.copyto(slot.input, blob[0])
            slot.request.start_async()
        except BaseException:
            self._free.append(slot)  # a refused input must not cost a request
            raise
        return slot

    def _wait(self, slot: _Slot) -> np.ndarray:
        try:
            slot.request.wait()
            # copy: the output tensor is reused by the request's next inference
            return np.array(slot.output, copy=True)
        finally:
            self._free.append(slot)

    def _collect(self, slot: _Slot, finish: Callable[[np.ndarray], list[Detection]]) -> list[Detection]:
        # decoded straight from the request's output tensor: the copy ``_wait`` makes of it (67 KB at 320)
        # is one more numpy call on the decision's path, slow after the idle between parts
        try:
            slot.request.wait()
            return finish(slot.output)
        finally:
            self._free.append(slot)

    def _infer(self, blob: np.ndarray) -> np.ndarray:
        return self._wait(self._start(blob))

    def close(self) -> None:
        self._free.clear()
        self._compiled = None  # type: ignore[assignment]


class _Slot:
    """An inference request with numpy views of its input and output tensors, made once: each
    ``get_*_tensor(0).data`` is a call through OpenVINO's bindings, slow after the idle between parts.
    The views stay valid: a request of a static-shape model keeps its tensors for its life."""

    __slots__ = ("input", "output", "request")

    def __init__(self, request: Any) -> None:
        self.request = request
        self.input: np.ndarray = request.get_input_tensor(0).data[0]  # (h, w, 3) uint8: the letterbox target
        self.output: np.ndarray = request.get_output_tensor(0).data


def _with_conversion(model):
    """uint8 NHWC BGR in, the model's float NCHW RGB / 255 inside: what ``preprocess.to_blob`` does."""
    from openvino import Layout, Type
    from openvino.preprocess import ColorFormat, PrePostProcessor

    ppp = PrePostProcessor(model)
    ppp.input().tensor().set_element_type(Type.u8).set_layout(Layout("NHWC")).set_color_format(ColorFormat.BGR)
    ppp.input().model().set_layout(Layout("NCHW"))
    ppp.input().preprocess().convert_element_type(Type.f32).convert_color(ColorFormat.RGB).scale(255.0)
    return ppp.build()


def _effective(precision: str, compiled) -> str:
    """bf16 only where the CPU has it: elsewhere OpenVINO quietly computes in f32, and the station says so."""
    if precision != "bf16":
        return precision
    return "bf16" if "bfloat16" in str(compiled.get_property("INFERENCE_PRECISION_HINT")) else "f32"


def _check_shapes(model, release: Release, path) -> None:
    """The same promise as ``verify_onnx_shape``, for files ONNX tools cannot read (the int8 IR)."""
    h, w = release.imgsz
    inputs, outputs = model.inputs, model.outputs
    in_shape = [d.get_length() if d.is_static else "?" for d in inputs[0].get_partial_shape()]
    if len(inputs) != 1 or in_shape != [1, 3, h, w]:
        raise ModelError(f"{path}: input shape is {in_shape}, the manifest imgsz needs [1, 3, {h}, {w}]")
    out = outputs[0].get_partial_shape()
    want = 4 + len(release.names)
    if len(out) != 3 or not out[1].is_static or out[1].get_length() != want:
        raise ModelError(f"{path}: output shape is {out}, expected [1, {want}, N] for the manifest's classes")
    if not out.is_static:  # each request's output view is made once (_Slot): its size must not change
        raise ModelError(f"{path}: output shape is {out}, the station needs a fixed number of boxes N")


def _first_line(exc: BaseException) -> str:
    # OpenVINO prefixes its reason with a stack of "Exception from <source file>:<line>:" lines
    lines = [ln.strip() for ln in str(exc).splitlines()]
    useful = [ln for ln in lines if ln and not ln.startswith("Exception from ")]
    return " ".join(useful) or type(exc).__name__


def _compile(core: Any, model: Any, config: dict[str, object], cache_dir: Path | None) -> Any:
    """Compile, through OpenVINO's model cache where the station gave one: a cached int8 model compiles in
    0.46 s instead of 1.09 s here. OpenVINO keys the cache by the model (already checked against the
    manifest's sha256 when loaded) and the compile settings, but does not check a blob's contents: the
    station's own sha256 of each blob does (``blob_ledger``). An unwritable or damaged cache costs the
    cached start, never the start."""
    if cache_dir is not None:
        try:
            cache_dir.mkdir(parents=True, exist_ok=True)
            known = blob_ledger.drop_unverified(cache_dir)
            compiled = core.compile_model(model, "CPU", {**config, "CACHE_DIR": str(cache_dir)})
            blob_ledger.record_new(cache_dir, known)
            return compiled
        except Exception as exc:  # noqa: BLE001 - the cache is an optimisation: compile without it
            log.warning("OpenVINO model cache %s not used: %s", cache_dir, _first_line(exc))
    return core.compile_model(model, "CPU", config)
