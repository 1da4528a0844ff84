"""The station: the runtime's public API.

``Station(config).start()`` loads and verifies every recipe's model, opens the results store, starts the
stage threads and the supervisor, and goes Operational. The UI and the PLC link use only this class:
``trigger()``, ``set_recipe()``, ``reset()``, ``stop()``, ``state``, ``counters`` and the listeners.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections.abc import Callable
from pathlib import Path

from inspect_app.config import CameraSettings, StationConfig
from inspect_app.detector.describe import describe
from inspect_app.handoff import Handoff
from inspect_app.health import HealthSnapshot, station_health
from inspect_app.metrics import yield_pct
from inspect_app.pipeline import AcquireWorker, DetectWorker, PipelineHost, make_inspection, stop_marker
from inspect_app.protocols import CorruptFrame, Detector, FrameSource, ResultStore, SourceError
from inspect_app.rules import RecipeError, RecipeRules, not_inspected
from inspect_app.shadow import ShadowRunner, ShadowStatus, shadow_runner
from inspect_app.stages import StageMonitor
from inspect_app.state import StateMachine, StationState
from inspect_app.state_dir_lock import StateDirBusy, StateDirLock
from inspect_app.station_admin import StationAdmin
from inspect_app.station_loops import StationLoops
from inspect_app.supervisor import Problem, Supervisor
from inspect_app.types import CommittedInspection, Inspection, PartRequest, Severity, StatusEvent, Verdict
from inspect_app.workers import Watch, WorkerThreads

log = logging.getLogger(__name__)

ResultListener = Callable[[CommittedInspection], None]
EventListener = Callable[[StatusEvent], None]


# which cause an Error shows when several come together (higher wins; equal: the newer)
_ERROR_RANK = {
    "WORKER_DIED": 5, "DISK_FULL": 4, "STORE_ERROR": 4, "STAGE_STALLED": 3, "INTERNAL_ERROR": 2,
    "ROI_OUTSIDE_IMAGE": 2, "CAMERA_ERROR": 1,
}  # fmt: skip


class StartupError(RuntimeError):
    """The station cannot start (bad model, bad recipe, unwritable state dir); the message says why."""


class NotRunning(RuntimeError):
    pass


class Station(StationLoops, StationAdmin, PipelineHost):
    def __init__(
        self,
        config: StationConfig,
        *,
        source: FrameSource | None = None,
        detectors: dict[str, Detector] | None = None,
        store: ResultStore | None = None,
        max_parts: int | None = None,
    ) -> None:
        self.config = config
        self.station_name = config.station.name
        self.iou = config.detector.iou
        self.state_dir = Path(config.state_dir)
        self._source = source
        self._detectors: dict[str, Detector] = dict(detectors or {})
        self._store = store
        self._max_parts = max_parts
        self._sm = StateMachine(self._on_state_change)
        self._rules: dict[str, RecipeRules] = {}
        self._recipe = config.active_recipe
        self._recipe_lock = threading.Lock()
        self._save_lock = threading.Lock()
        self._result_listeners: list[ResultListener] = []
        self._event_listeners: list[EventListener] = []
        # hand-offs between the station's threads wake their reader in C (inspect_app.handoff)
        self._signal_q: Handoff = Handoff()
        self._triggers: Handoff[PartRequest] = Handoff(config.trigger.queue_size)
        self._detect_q: Handoff = Handoff(config.pipeline.detect_queue)
        self._stop = threading.Event()
        self._workers = WorkerThreads(self._on_worker_crash)
        self._watches: list[Watch] = []
        self._lock_handle: StateDirLock | None = None
        self._trigger_seq = 0
        self._seq_lock = threading.Lock()
        self._session = time.strftime("%y%m%d%H%M%S")
        self._done = threading.Condition()
        self._counters = {
            "total": 0,
            "pass": 0,
            "fail": 0,
            "not_inspected": 0,
            "missed_triggers": 0,
            "skipped_frames": 0,
        }
        self._counter_base: dict[str, int] = {}  # _counters at the last reset_counters() (station_admin)
        self.last_result: CommittedInspection | None = None
        self.finished = threading.Event()  # a finite source ran out, or max_parts were requested
        self.heartbeat = 0
        self.acquire: AcquireWorker | None = None
        self.detect: DetectWorker | None = None
        self.supervisor: Supervisor | None = None
        self._shadow: ShadowRunner | None = None
        self.signal_monitor = StageMonitor("signal")
        self._camera_error: str | None = None
        self._camera_message = ""
        self._roi_problem: str | None = None
        self._roi_shape: tuple[int, int] | None = None  # the image size the ROI failed on
        self._worker_fault: str | None = None  # latched until an operator reset
        self._error_text: str | None = None

    # ------------------------------------------------------------------ public API
    @property
    def state(self) -> StationState:
        return self._sm.state

    @property
    def error_code(self) -> str | None:
        return self._sm.error_code

    @property
    def recipe(self) -> str:
        return self._recipe

    @property
    def recipes(self) -> list[str]:
        return list(self.config.recipes)

    @property
    def counters(self) -> dict[str, float]:
        with self._done:
            c = {k: v - self._counter_base.get(k, 0) for k, v in self._counters.items()}
        c["yield_pct"] = yield_pct(c["pass"], c["fail"]) or 0.0  # of decided parts (inspect_app.metrics)
        return c

    def models(self) -> dict[str, Detector]:
        return dict(self._detectors)

    def shadow_status(self) -> ShadowStatus | None:
        """The shadow model's tallies since start (None: no ``[shadow]``); see ``inspect_app.shadow``."""
        return self._shadow.status() if self._shadow is not None else None

    def add_result_listener(self, listener: ResultListener) -> None:
        """Called on the signal thread for every result after its DB commit. Must not block."""
        self._result_listeners.append(listener)

    def add_event_listener(self, listener: EventListener) -> None:
        self._event_listeners.append(listener)

    def start(self) -> None:
        try:
            self._lock_handle = StateDirLock.acquire(self.state_dir)
        except StateDirBusy as exc:
            raise StartupError(str(exc)) from None
        self._sm.to(StationState.PREOPERATIONAL, "start requested")
        try:
            self._prepare()
        except StartupError as exc:
            self._emit("state", Severity.ERROR, f"start failed: {exc}")
            self._sm.to(StationState.HALTED, "start failed")
            self._close_resources()
            if self._store is not None:  # the start-failure event above is committed, then the writer ends
                self._store.close(10.0)
            self._release_lock()
            raise
        self._start_threads()
        mode = self.config.trigger.mode
        self._sm.to(StationState.CONTINUOUS if mode == "free_run" else StationState.READY, "started")

    def trigger(self, part_id: str | None = None, source: str = "software") -> PartRequest:
        """Ask for one part to be inspected. Never drops it: if it cannot be queued it is recorded
        NOT_INSPECTED (OVERRUN) and counted as a missed trigger."""
        if self._stop.is_set() or self.state in (StationState.HALTED, StationState.PREOPERATIONAL):
            raise NotRunning(f"station is {self.state}; start it before triggering")
        request = self._new_request(source, part_id)
        if not self._workers.alive("acquire"):
            # nobody would take it from the queue: recorded now, never left waiting
            self._submit_nowait(request, "WORKER_DIED", "the acquire worker has stopped; restart the station")
            return request
        try:
            self._triggers.put_nowait(request)
        except queue.Full:
            with self._done:
                self._counters["missed_triggers"] += 1
            self._emit(
                "trigger",
                Severity.WARNING,
                f"trigger overrun: part {request.part_id} not inspected",
                part_id=request.part_id,
            )
            self._submit_nowait(request, "OVERRUN", "trigger queue full")
        return request

    def record_missed(self, part_id: str | None, code: str, message: str, source: str = "external") -> None:
        """A trigger refused before it reached the station (e.g. the PLC triggered while a part was still
        pending): recorded NOT_INSPECTED with ``code`` and counted as a missed trigger, so it shows up in
        the results like any other part that was not inspected."""
        request = self._new_request(source, part_id)
        with self._done:
            self._counters["missed_triggers"] += 1
        self._submit_nowait(request, code, message)

    def _submit_nowait(self, request: PartRequest, code: str, message: str) -> None:
        """Record a part NOT_INSPECTED without ever blocking the caller (a PLC's event loop)."""
        assert self._store is not None
        self._store.submit(make_inspection(self, request, not_inspected(code, message)), block=False)

    def set_recipe(self, name: str, who: str = "api") -> None:
        """Switch recipe; takes effect on the next part and is recorded."""
        if name not in self.config.recipes:
            raise KeyError(f"unknown recipe {name!r}; known: {', '.join(self.config.recipes)}")
        with self._recipe_lock:
            old, self._recipe = self._recipe, name
        self._recheck_roi()
        if old != name:
            self._emit(
                "recipe", Severity.INFO, f"recipe {old} -> {name} by {who}", old=old, new=name, who=who
            )

    def reset(self, who: str = "api") -> bool:
        """Clear Error (the operator's acknowledge). Refused while the cause is still there."""
        if self.state != StationState.ERROR:
            return False
        if self.blocking_problem(ignore_latched=True):
            return False
        self._worker_fault = None
        target = StationState.CONTINUOUS if self.config.trigger.mode == "free_run" else StationState.READY
        self._sm.to(target, f"reset by {who}")
        return True

    def wait_for_results(self, n: int, timeout: float) -> bool:
        """Block until ``n`` results have been committed in total (or timeout)."""
        deadline = time.monotonic() + timeout
        with self._done:
            while self._counters["total"] < n:
                left = deadline - time.monotonic()
                if left <= 0:
                    return False
                self._done.wait(left)
        return True

    def stop(self, timeout: float = 30.0) -> None:
        """Graceful stop: finish queued parts, flush every result to the DB, then halt.

        Results that cannot be committed within the store's ``flush_timeout_s`` (a full disk) go to the
        store's journal, which the next start imports; StoreError only if even that failed."""
        if self._stop.is_set():
            return
        self._stop.set()
        deadline = time.monotonic() + timeout
        self._workers.join("acquire", max(0.1, deadline - time.monotonic()))
        self._put_detect_stop(deadline)
        self._workers.join("detect", max(0.1, deadline - time.monotonic()))
        if self.detect is not None and self._workers.alive("detect"):
            # inference stuck past the stop timeout: the parts in flight are recorded now, not never
            for item in self.detect.abandon():
                insp = make_inspection(self, item.request, not_inspected("SHUTDOWN", "station stopped while "
                                       "its inference was stuck"), frame=item.frame)  # fmt: skip
                self._store.submit(insp, block=False)  # type: ignore[union-attr]
        if self.acquire is not None:  # a camera read or hand-on that outlived the join records its own part
            self.acquire.close()
        self._record_leftovers()
        if self._shadow is not None:  # its rows go through the store's writer: before the store closes
            shadow = self._shadow.stop()
            self._emit("shadow", Severity.INFO, f"shadow stopped: {shadow.line()}", **shadow.as_dict())
        # nothing is inspected any more: Halted now, so the transition is committed with the last results
        if self.supervisor:
            self.supervisor.stop()
        if self.state != StationState.HALTED:
            self._sm.to(StationState.HALTED, "stopped")
        try:
            if self._store is not None:
                self._store.close(self.config.store.flush_timeout_s)
        finally:
            self._signal_q.put(stop_marker())
            self._workers.join("signal", max(0.1, deadline - time.monotonic()))
            self._close_resources()
            self._release_lock()

    def _release_lock(self) -> None:
        if self._lock_handle is not None:
            self._lock_handle.release()
            self._lock_handle = None

    # ------------------------------------------------------------------ health
    def health(self) -> HealthSnapshot:
        """One frozen snapshot of everything the status lights, the PLC and the status line show."""
        return station_health(self)

    @property
    def error_text(self) -> str | None:
        return self._error_text if self.state == StationState.ERROR else None

    def add_watch(self, watch: Watch) -> None:
        """A link's own thread (the OPC UA loop) for the supervisor to check like the station's."""
        self._watches.append(watch)

    def blocking_problem(self, ignore_latched: bool = False) -> str | None:
        """Why the station cannot leave Error now (None: a reset would be accepted)."""
        if self._camera_error:
            return f"camera: {self._camera_message or self._camera_error}"
        if self._roi_problem:
            return self._roi_problem
        if self.supervisor and self.supervisor.problem():
            return self.supervisor.problem()
        if not ignore_latched and self._worker_fault:
            return self._worker_fault
        return None

    # ------------------------------------------------------------------ start-up
    def _prepare(self) -> None:
        from inspect_app.builders import build_detectors, build_source, build_store

        try:
            self.state_dir.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise StartupError(f"state directory {self.state_dir}: {exc.strerror}") from None
        if self._store is None:
            self._store = build_store(self.config, self._emit_store_event)
        self._store.add_commit_listener(self._on_commit)
        self._store.start()
        if not self._detectors:
            self._detectors = build_detectors(self.config)
        for name, recipe in self.config.recipes.items():
            try:
                self._rules[name] = RecipeRules(name, recipe, self._detectors[recipe.model].info.names)
            except RecipeError as exc:
                raise StartupError(str(exc)) from None
        self._check_roi_at_start()
        if self._source is None:
            self._source = build_source(self.config)
        bind = getattr(self._source, "bind_station", None)
        if bind is not None:  # a camera with per-recipe settings that reports its own events (genicam)
            bind(self)
        self.acquire = AcquireWorker(
            self, self._source, self._read_timeout(), self._detect_alive, self._detect_q, self._max_frame_age
        )
        self.detect = DetectWorker(self, self._detect_q, self.config.pipeline.in_flight)
        self.supervisor = Supervisor(self, self.config.pipeline.stall_timeout_s)
        self._shadow = shadow_runner(
            self.config, lambda: self.config.recipes, self._store.record_shadow, self._line_busy
        )
        loaded = sorted({describe(d) for d in self._detectors.values()})
        self._emit("state", Severity.INFO, f"models loaded: {' | '.join(loaded)}")  # each line has commas

    def _read_timeout(self) -> float:
        return float(getattr(self.config.source, "read_timeout_s", 5.0))

    def _max_frame_age(self) -> float | None:
        configured = getattr(self.config.source, "max_frame_age_ms", None)
        if configured is not None:
            return configured / 1000.0
        return getattr(self._source, "frame_age_limit_s", None)  # sources that take pictures on demand: None

    def _check_roi_at_start(self) -> None:
        from inspect_app.sources import declared_resolution

        if self._source is not None:
            return  # a source handed in (a test's, a bench's): its size is known from its first frame
        size = declared_resolution(self.config.source)
        if size is None:
            return  # checked on the first frame instead
        w, h = size
        for rules in self._rules.values():
            problem = rules.roi_problem((h, w))
            if problem:
                raise StartupError(problem)

    def _start_threads(self) -> None:
        assert self.acquire and self.detect and self.supervisor
        for name, body, monitor in (
            ("acquire", self._acquire_loop, self.acquire.monitor),
            ("detect", self.detect.run, self.detect.monitor),
            ("signal", self._signal_loop, self.signal_monitor),
        ):
            self._workers.start(name, body)
            self._watches.append(
                Watch(name, lambda n=name: self._workers.alive(n), monitor.stuck_for, monitor.flag_stalled)
            )
        store_watch = getattr(self._store, "watch", None)
        if store_watch is not None:
            self._watches.append(store_watch())
        self.supervisor.start()
        if self._shadow is not None:
            self._shadow.start()
            self._emit("shadow", Severity.INFO, f"shadow model {self.config.shadow.release} starting (its "
                       "verdicts are stored apart and never used)")  # fmt: skip

    def _line_busy(self) -> bool:
        """A live part is waiting for the camera or the detector: the CPU is the line's, not the shadow's."""
        return self._detect_q.qsize() > 0 or self._triggers.qsize() > 0

    def _detect_alive(self) -> bool:
        return self._workers.alive("detect")

    # ------------------------------------------------------------------ what a bound camera asks (genicam)
    def camera_settings_for(self, recipe: str) -> CameraSettings | None:
        """The recipe's camera settings as the recipe is now (edits included); None: the source's."""
        found = self.config.recipes.get(recipe)
        return None if found is None else found.camera

    def event(self, kind: str, severity: Severity, message: str, **payload: object) -> None:
        """An event from a part of the station (a camera) into the station's one event stream."""
        self._emit(kind, severity, message, **payload)

    # ------------------------------------------------------------------ what the supervisor asks
    def watches(self) -> list[Watch]:
        return list(self._watches)

    def store_problem(self) -> tuple[str, str] | None:
        store = self._store
        if store is None:
            return None
        problem = getattr(store, "problem", None)
        if problem is not None:
            return problem()
        return None if getattr(store, "healthy", True) else ("STORE_ERROR", "results store cannot commit")

    def source_status(self) -> object | None:
        status = getattr(self._source, "status", None)
        return status() if status is not None and self.acquire and self.acquire.source_open else None

    def stopping(self) -> bool:
        return self._stop.is_set()

    def report_problem(self, problem: Problem) -> None:
        self._emit("supervisor", Severity.ERROR, problem.message, code=problem.code)
        self.go_error(problem.code, problem.message)

    def report_recovered(self, problem: Problem) -> None:
        self._emit("supervisor", Severity.INFO, f"recovered: {problem.message}", code=problem.code)

    def beat(self) -> None:
        if self.state.operational:
            self.heartbeat += 1

    def on_worker_died(self, name: str) -> None:
        """A station thread is gone: what was waiting for it is recorded, nothing is left queued."""
        waiting = {"acquire": self._triggers, "detect": self._detect_q}.get(name)
        if waiting is not None:
            self._record_queued(waiting, "WORKER_DIED", f"the {name} worker has stopped")

    def _on_worker_crash(self, name: str, exc: BaseException) -> None:
        msg = f"worker '{name}' died: {type(exc).__name__}: {exc}"
        self._emit("worker", Severity.ERROR, msg, worker=name)
        self.go_error("WORKER_DIED", msg)

    # ------------------------------------------------------------------ workers
    def _new_request(self, source: str, part_id: str | None = None) -> PartRequest:
        with self._seq_lock:
            self._trigger_seq += 1
            seq = self._trigger_seq
        return PartRequest(
            part_id=part_id or f"{self._session}-{seq:06d}",
            trigger_id=seq,
            trigger_source=source,
            requested_at=time.time(),
            requested_mono=time.monotonic(),
            recipe=self._recipe,
        )

    # ------------------------------------------------------------------ PipelineHost callbacks
    def submit(self, inspection: Inspection) -> None:
        assert self._store is not None
        self._store.submit(inspection)

    def rules_for(self, recipe: str) -> RecipeRules:
        return self._rules[recipe]

    def detector_for(self, recipe: str) -> Detector:
        return self._detectors[self.config.recipes[recipe].model]

    def may_inspect(self) -> str | None:
        if self.state == StationState.ERROR and not self._camera_error:
            return self.error_code or "STATION_ERROR"
        return None

    def on_source_error(self, exc: SourceError) -> None:
        first = self._camera_error is None
        self._camera_error = exc.code
        self._camera_message = str(exc)
        if first:
            self._emit("source", Severity.ERROR, str(exc), code=exc.code)
        self.go_error("CAMERA_ERROR", str(exc))

    def on_source_ok(self) -> None:
        if self._camera_error is None:
            return
        self._camera_error = None
        self._camera_message = ""
        self._emit("source", Severity.INFO, "camera delivering frames again")
        if self.state == StationState.ERROR and self.error_code == "CAMERA_ERROR":
            self.reset(who="camera recovery")

    def on_roi_problem(self, message: str, image_shape: tuple[int, int]) -> None:
        if self._roi_problem != message:
            self._roi_problem = message
            self._roi_shape = image_shape
            self._emit("recipe", Severity.ERROR, message, code="ROI_OUTSIDE_IMAGE")
        self.go_error("ROI_OUTSIDE_IMAGE", message)

    def _recheck_roi(self) -> None:
        """After a recipe edit or switch: the ROI that failed is checked again on the image size it failed
        on, so a fixed recipe lets the operator reset the Error (parts are not inspected meanwhile)."""
        shape = self._roi_shape
        if self._roi_problem is None or shape is None:
            return
        with self._recipe_lock:
            problems = [r.roi_problem(shape) for r in self._rules.values()]
        if not any(problems):
            self._roi_problem = None
            self._emit("recipe", Severity.INFO, "every recipe's ROI fits the image again")

    def on_worker_fault(self, stage: str, part_id: str, exc: BaseException) -> None:
        msg = f"{stage} failed on part {part_id}: {type(exc).__name__}: {exc}"
        self._worker_fault = msg
        self._emit("worker", Severity.ERROR, msg, stage=stage, part_id=part_id)
        self.go_error("INTERNAL_ERROR", msg)

    def on_source_exhausted(self, message: str) -> None:
        self._emit("source", Severity.INFO, message)
        if self.state == StationState.CONTINUOUS:
            self._sm.to(StationState.READY, "source exhausted")
        self.finished.set()

    def on_frame_corrupt(self, exc: CorruptFrame) -> None:
        self._emit("source", Severity.WARNING, f"corrupt image: {exc}", origin=exc.origin)

    def on_frame_skipped(self, code: str) -> None:
        with self._done:
            self._counters["skipped_frames"] += 1

    def on_detector_error(self, part_id: str, exc: Exception) -> None:
        self._emit("detector", Severity.ERROR, f"inference failed on part {part_id}: {exc}", part_id=part_id)

    def go_error(self, code: str, why: str) -> None:
        """Enter Error with ``code``; already in Error, a graver cause replaces the code shown (a dead worker
        is not hidden behind the camera error that came first)."""
        if self.state.operational:
            self._error_text = why
            self._sm.to(StationState.ERROR, why, error_code=code)
        elif self.state == StationState.ERROR and code != self.error_code and self._graver(code):
            old = self.error_code
            self._error_text = why
            self._sm.error_code = code
            self._emit("state", Severity.ERROR, f"Error: {old} -> {code}: {why}", old=old, error_code=code)

    def _graver(self, code: str) -> bool:
        return _ERROR_RANK.get(code, 1) >= _ERROR_RANK.get(self.error_code or "", 1)

    # ------------------------------------------------------------------ events and results
    def _emit(self, kind: str, severity: Severity, message: str, **payload: object) -> None:
        event = StatusEvent(kind=kind, severity=severity, message=message, payload=dict(payload))
        log.log(logging.ERROR if severity == Severity.ERROR else logging.INFO, "[%s] %s", kind, message)
        if self._store is not None and not getattr(self._store, "closed", False):
            try:
                self._store.record_event(event)
            except RuntimeError:
                log.warning("event not stored (store closed): %s", message)
        self._signal_q.put(event)

    def _emit_store_event(self, event: StatusEvent) -> None:
        """The store's own alarms (disk full, DB errors) join the station's event stream."""
        log.log(
            logging.ERROR if event.severity == Severity.ERROR else logging.INFO,
            "[%s] %s",
            event.kind,
            event.message,
        )
        self._signal_q.put(event)

    def _on_state_change(self, old: StationState, new: StationState, why: str) -> None:
        sev = Severity.ERROR if new == StationState.ERROR else Severity.INFO
        self._emit(
            "state", sev, f"{old} -> {new}: {why}", old=str(old), new=str(new), error_code=self._sm.error_code
        )

    def _on_commit(self, committed: CommittedInspection) -> None:
        verdict = committed.inspection.verdict
        key = {Verdict.PASS: "pass", Verdict.FAIL: "fail", Verdict.NOT_INSPECTED: "not_inspected"}[verdict]
        with self._done:
            self._counters["total"] += 1
            self._counters[key] += 1
            self.last_result = committed
            self._done.notify_all()
        self._signal_q.put(committed)
        if self._shadow is not None:  # after the live result is handed on: it can never change it
            self._shadow.offer(committed)

    def _close_resources(self) -> None:
        if self._source is not None:
            try:
                self._source.close()
            except Exception:  # closing a dead camera must not hide the real problem
                log.exception("closing source failed")
        for det in self._detectors.values():
            det.close()
