"""The stage workers: acquire -> detect (+ decide) -> record -> signal, each in its own thread.

Decide runs in the detect worker: it takes microseconds, and a queue hop would cost more than it does.
It is still its own stage class (``RecipeRules``) with its own timestamp. Record is the store's writer
thread; signal runs only after the row is committed. See ``stages.py`` for the back-pressure policy.

Parts in flight: with a detector that can run inference in the background (``begin``: OpenVINO), the detect
worker starts the next waiting part's inference before it post-processes and decides the previous one, so
the runtime never waits for Python between two parts (``pipeline.in_flight``; unset, every request the
detector has: 2, or 2 per OpenVINO stream; one at a time on a single core). A part
is begun only if it is already waiting: a lone part is finished at once, as before. Results still leave in
the order the parts came; the supervisor sees the oldest part in flight as the one in hand.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from inspect_app.detector.threads import plan
from inspect_app.handoff import Handoff
from inspect_app.protocols import CorruptFrame, Detector, FrameSource, SourceError, SourceExhausted
from inspect_app.rules import ROI_OUTSIDE_IMAGE, RecipeRules, not_inspected
from inspect_app.stages import StageMonitor, StageTimes
from inspect_app.types import Decision, Frame, Inspection, PartRequest

log = logging.getLogger(__name__)

_STOP = object()


@dataclass(frozen=True, slots=True)
class Acquired:
    request: PartRequest
    frame: Frame
    acquired_mono: float


class PipelineHost:
    """What the workers need from the station (kept narrow so workers are testable on their own)."""

    station_name: str
    submit: Callable[[Inspection], None]
    rules_for: Callable[[str], RecipeRules]
    detector_for: Callable[[str], Detector]
    iou: float
    may_inspect: Callable[[], str | None]  # None, or the error code that stops inspection
    on_source_error: Callable[[SourceError], None]
    on_source_ok: Callable[[], None]
    on_source_exhausted: Callable[[str], None]
    on_frame_corrupt: Callable[[CorruptFrame], None]
    on_frame_skipped: Callable[[str], None]
    on_detector_error: Callable[[str, Exception], None]
    on_roi_problem: Callable[[str, tuple[int, int]], None]
    # an exception no stage expected: the part is recorded, the station goes to Error (latched)
    on_worker_fault: Callable[[str, str, BaseException], None]


def make_inspection(
    host: PipelineHost,
    request: PartRequest,
    decision: Decision,
    *,
    frame: Frame | None = None,
    detections: tuple = (),
    timings: dict[str, float] | None = None,
    model: Detector | None = None,
    origin: str | None = None,
) -> Inspection:
    now = time.monotonic()
    return Inspection(
        part_id=request.part_id,
        trigger_id=request.trigger_id,
        trigger_source=request.trigger_source,
        station=host.station_name,
        recipe=request.recipe,
        model_id=model.info.model_id if model else None,
        model_sha256=model.info.sha256 if model else None,
        decision=decision,
        detections=detections,
        timings_ms=timings or {"total": (now - request.requested_mono) * 1000},
        frame_id=frame.frame_id if frame else None,
        captured_at=frame.captured_at if frame else request.requested_at,
        source=frame.source if frame else "",
        image=frame.image if frame else None,
        origin=origin or (frame.origin if frame else None),
    )


class AcquireWorker:
    """Turns part requests (triggers or free-run ticks) into frames, or into NOT_INSPECTED records.

    Freshness is part of the contract: a frame taken longer than ``max_age_s()`` before its part's trigger
    is not that part's picture. The worker asks once more (a newest-frame source then waits for a new one,
    up to the read timeout) and records the part NOT_INSPECTED ``STALE_FRAME`` if the picture is still old.
    """

    def __init__(
        self,
        host: PipelineHost,
        source: FrameSource,
        read_timeout: float,
        detect_alive: Callable[[], bool],
        out: Handoff,
        max_age_s: Callable[[], float | None] = lambda: None,
    ) -> None:
        self.host = host
        self.detect_alive = detect_alive
        self.source = source
        self.read_timeout = read_timeout
        self.max_age_s = max_age_s
        self.monitor = StageMonitor("acquire")
        self.out = out  # the bounded detect queue
        self.source_open = False
        self._retry_at = 0.0
        self._backoff = 0.5
        self.exhausted = False
        self.stale_frames = 0
        # held while a frame is handed on and by ``close``: once a stop has emptied the detect queue, a frame
        # this stage still held is recorded here instead of slipping into the emptied queue
        self._hand_lock = threading.Lock()
        self._closed = False

    def close(self) -> None:
        """For a stop about to record what is queued: from now on, frames are recorded, not handed on."""
        with self._hand_lock:
            self._closed = True

    def ensure_open(self) -> bool:
        if self.source_open:
            return True
        if time.monotonic() < self._retry_at:
            return False
        try:
            self.source.open()
        except SourceError as exc:
            self._retry_at = time.monotonic() + self._backoff
            self._backoff = min(self._backoff * 2, 10.0)
            self.host.on_source_error(exc)
            return False
        self.source_open = True
        self._backoff = 0.5
        self.host.on_source_ok()
        return True

    def process(self, request: PartRequest, stop: threading.Event) -> None:
        """One part: never returns without handing it on (to detect) or recording it."""
        self.monitor.begin(request.part_id)
        frame: Frame | None = None
        try:
            frame = self._acquire(request)
            if frame is not None:
                self._hand_on(request, frame, stop)
        except BaseException as exc:  # stage boundary: the part in hand is recorded, the station to Error
            log.exception("acquire failed on part %s", request.part_id)
            msg = f"acquire failed: {type(exc).__name__}: {exc}"
            self._record(request, "INTERNAL_ERROR", msg, frame=frame)
            self.host.on_worker_fault("acquire", request.part_id, exc)
            if not isinstance(exc, Exception):
                raise  # SystemExit and the like end the thread: the thread guard and the supervisor take over
        finally:
            self.monitor.end()

    def _acquire(self, request: PartRequest) -> Frame | None:
        """The part's frame, or None when the part was recorded (or skipped) instead."""
        host = self.host
        blocked = host.may_inspect()
        if blocked:
            self._not_inspected(request, blocked, f"station not operational ({blocked})")
            return None
        if self.exhausted:
            self._not_inspected(request, "SOURCE_EXHAUSTED", "the image source has no more frames")
            return None
        if not self.ensure_open():
            self._not_inspected(request, "CAMERA_ERROR", "camera not connected")
            return None
        limit = self.max_age_s()
        deadline = time.monotonic() + self.read_timeout
        frame = self._read(request)
        while frame is not None and limit is not None and _age(request, frame) > limit:
            if time.monotonic() >= deadline:
                age_ms = _age(request, frame) * 1000
                self.stale_frames += 1
                self._not_inspected(
                    request, "STALE_FRAME",
                    f"the newest frame was taken {age_ms:.0f} ms before the trigger (max_frame_age_ms "
                    f"{limit * 1000:.0f})", frame=frame,
                )  # fmt: skip
                return None
            frame = self._read(request)
        if frame is not None:
            host.on_source_ok()
        return frame

    def _read(self, request: PartRequest) -> Frame | None:
        host = self.host
        # a source that matches frames to parts (a triggered GenICam camera) is told which part it reads for
        read_for = getattr(self.source, "read_for", None)
        try:
            if read_for is not None:
                return read_for(request, self.read_timeout)
            return self.source.read(self.read_timeout)
        except CorruptFrame as exc:
            host.on_frame_corrupt(exc)
            self._record(request, exc.code, str(exc), origin=exc.origin)
        except SourceExhausted as exc:
            self.exhausted = True
            host.on_source_exhausted(str(exc))
            self._not_inspected(request, "SOURCE_EXHAUSTED", str(exc))
        except SourceError as exc:
            # sources that reconnect by themselves (OpenCV) stay open; others are reopened with backoff
            self.source_open = getattr(self.source, "reconnects_itself", False)
            host.on_source_error(exc)
            self._not_inspected(request, "CAMERA_ERROR", str(exc))
        return None

    def _hand_on(self, request: PartRequest, frame: Frame, stop: threading.Event) -> None:
        item = Acquired(request, frame, time.monotonic())
        while True:  # blocking put that still notices a stop
            with self._hand_lock:
                if self._closed:
                    self._record(request, "SHUTDOWN", "station stopped before inspection", frame=frame)
                    return
                try:
                    self.out.put(item, timeout=0.2)
                    return
                except queue.Full:
                    pass
            if not self.detect_alive():
                code = "SHUTDOWN" if stop.is_set() else "WORKER_DIED"
                self._record(request, code, "no detect worker to take the part", frame=frame)
                return

    def _not_inspected(
        self, request: PartRequest, code: str, message: str, frame: Frame | None = None
    ) -> None:
        """A part that got no usable frame. A triggered part is real and is recorded; a free-run tick is not
        a part (nothing on the conveyor was seen), so it is only counted as a skipped frame."""
        if request.trigger_source == "free_run":
            self.host.on_frame_skipped(code)
        else:
            self._record(request, code, message, frame=frame)

    def _record(
        self,
        request: PartRequest,
        code: str,
        message: str,
        *,
        frame: Frame | None = None,
        origin: str | None = None,
    ) -> None:
        self.host.submit(
            make_inspection(self.host, request, not_inspected(code, message), frame=frame, origin=origin)
        )


@dataclass
class _InFlight:
    """One part whose inference was begun (or whose beginning failed, recorded in its turn)."""

    item: Acquired
    started: float
    rules: RecipeRules | None = None
    model: Detector | None = None
    pending: Any = None  # inspect_app.detector.postprocess.Pending
    error: Exception | None = None
    stalled: bool = False


class DetectWorker:
    """Runs the recipe's model and rules on each acquired frame and submits the inspection."""

    def __init__(self, host: PipelineHost, inbox: Handoff, in_flight: int | None = 1) -> None:
        self.host = host
        self.inbox = inbox
        # None: the thread plan's, from the cores this process may use, up to every request the detector has
        self._planned = in_flight is None
        self.in_flight = plan().in_flight if in_flight is None else max(1, in_flight)
        self.monitor = StageMonitor("detect")
        self._flight: deque[_InFlight] = deque()
        # guards the flight list and every submit: a part is either submitted here or handed to abandon()
        self._lock = threading.Lock()
        self._abandoned = False

    def run(self) -> None:
        flight = self._flight
        try:
            while True:
                try:
                    # with a part in flight, only a part that is already waiting may overtake its finish
                    item = self.inbox.get_nowait() if flight else self.inbox.get()
                except queue.Empty:
                    self._finish_oldest()
                    continue
                if item is _STOP:
                    while flight:
                        self._finish_oldest()
                    return
                self._begin(item)
                while flight and (len(flight) >= self._depth(flight[-1]) or flight[-1].pending is None):
                    self._finish_oldest()
        except BaseException as exc:  # the thread ends: parts begun and not finished are recorded, not lost
            msg = f"detect stage ended: {type(exc).__name__}: {exc}"
            while flight:
                entry = flight[0]
                self._submit(entry, make_inspection(
                    self.host, entry.item.request, not_inspected("WORKER_DIED", msg), frame=entry.item.frame
                ))  # fmt: skip
            raise

    def abandon(self) -> list[Acquired]:
        """For a stop that cannot wait for a stuck inference: the parts in flight are handed over to be
        recorded by the caller, and whatever this worker finishes later is no longer submitted."""
        with self._lock:
            self._abandoned = True
            return [e.item for e in self._flight]

    def _depth(self, entry: _InFlight) -> int:
        slots = getattr(entry.model, "slots", 1)
        if self._planned and self.in_flight > 1:
            return slots  # OpenVINO: 2 requests, or 2 per stream so that every stream computes
        return min(self.in_flight, slots)

    def _begin(self, item: Acquired) -> None:
        """Rules, model and the start of inference; any failure is kept and recorded in the part's turn."""
        host, request = self.host, item.request
        entry = _InFlight(item, time.monotonic())
        with self._lock:
            if not self._flight:
                self.monitor.begin(request.part_id)
            self._flight.append(entry)
        try:
            entry.rules = host.rules_for(request.recipe)
            entry.model = host.detector_for(request.recipe)
            begin = getattr(entry.model, "begin", None)
            if begin is not None and self.in_flight > 1:
                entry.pending = begin(item.frame.image, entry.rules.detector_conf, host.iou)
        except Exception as exc:  # noqa: BLE001  stage boundary: raised again, and recorded, in _inspect
            entry.error = exc

    def _submit(self, entry: _InFlight, inspection: Inspection) -> None:
        with self._lock:
            if self._flight and self._flight[0] is entry:
                self._flight.popleft()
            if self._abandoned:
                log.warning("part %s finished after the stop recorded it", entry.item.request.part_id)
                return
            self.host.submit(inspection)

    def _finish_oldest(self) -> None:
        host = self.host
        entry = self._flight[0]
        request, frame = entry.item.request, entry.item.frame
        try:
            inspection = self._inspect(entry)
            if self.monitor.was_stalled():
                for e in list(self._flight):  # every part in flight was in hand when the stall was declared
                    e.stalled = True
            if entry.stalled:
                inspection = make_inspection(
                    host, request,
                    not_inspected("STAGE_STALLED", "inspection outlived the stall timeout; Error was raised"),
                    frame=frame, model=None,
                )  # fmt: skip
            self._submit(entry, inspection)
        except BaseException as exc:  # stage boundary: the part in hand is recorded, the station to Error
            log.exception("detect stage failed on part %s", request.part_id)
            msg = f"detect stage failed: {type(exc).__name__}: {exc}"
            failed = make_inspection(host, request, not_inspected("INTERNAL_ERROR", msg), frame=frame)
            self._submit(entry, failed)
            host.on_worker_fault("detect", request.part_id, exc)
            if not isinstance(exc, Exception):
                raise
        finally:
            self.monitor.end()
            with self._lock:
                if self._flight:
                    self.monitor.begin(self._flight[0].item.request.part_id)

    def _inspect(self, entry: _InFlight) -> Inspection:
        host, request, frame = self.host, entry.item.request, entry.item.frame
        model = entry.model
        try:
            if entry.error is not None:
                raise entry.error
            assert entry.rules is not None and model is not None
            if entry.pending is not None:
                detections = tuple(entry.pending.result())
            else:
                detections = tuple(model.detect(frame.image, conf=entry.rules.detector_conf, iou=host.iou))
            detected = time.monotonic()
            decision = entry.rules.decide(detections, frame.image.shape[:2])
        except Exception as exc:  # stage boundary: any model failure becomes a recorded NOT_INSPECTED
            log.exception("inference failed on part %s", request.part_id)
            host.on_detector_error(request.part_id, exc)
            msg = f"inference failed: {type(exc).__name__}: {exc}"
            decision = not_inspected("DETECTOR_ERROR", msg)
            return make_inspection(host, request, decision, frame=frame, model=model)
        if decision.error_code == ROI_OUTSIDE_IMAGE:
            host.on_roi_problem(decision.reasons[0].message, frame.image.shape[:2])
        times = StageTimes(
            request.requested_mono, entry.item.acquired_mono, entry.started, detected, time.monotonic()
        )
        # the picture's age at the trigger (negative: taken after it), so every record shows how fresh it was
        timings = {**times.as_ms(), "frame_age": round(_age(request, frame) * 1000, 3)}
        return make_inspection(
            host, request, decision, frame=frame, detections=detections, timings=timings, model=model
        )


def _age(request: PartRequest, frame: Frame) -> float:
    """Seconds the frame was taken before its part's trigger (negative: after it)."""
    return request.requested_mono - frame.captured_mono


def stop_marker() -> object:
    return _STOP
