"""The shadow model: a candidate release judging the live parts beside the live model, deciding nothing.

Each committed live part (``Station._on_commit``) is offered to the shadow with its image; the shadow runs the
candidate and the part's own recipe rules on it in one thread of its own, at a lower OS priority, and stores
what it decided in ``shadow_results`` (flagged, beside the live row, never in it). Its verdict never reaches
the live verdict, the PLC, the counters or the yield: it is computed after the live result is committed and
handed on, and goes only to its own table and to this object's tallies.

It gives way to the line: a part is skipped (and counted) when the shadow is still busy with the previous one
(a queue of one, never a backlog), or when a live part is waiting for the detector (``busy()``), so the
shadow's CPU use never delays a live part that could have started. The thread lowers its niceness before it
loads the model, so the runtime's own threads, created by that load, inherit it (Linux: niceness is per
thread).
"""

from __future__ import annotations

import logging
import os
import queue
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable, Mapping
from concurrent.futures import Future
from dataclasses import dataclass, field
from typing import Any

from inspect_app.config import RecipeConfig, StationConfig
from inspect_app.config_quality import ShadowConfig
from inspect_app.protocols import Detector
from inspect_app.rules import RecipeRules
from inspect_app.store.schema import ShadowResult
from inspect_app.types import CommittedInspection, Verdict

log = logging.getLogger(__name__)

_STOP = object()


@dataclass(frozen=True, slots=True)
class ShadowStatus:
    """The shadow's tallies since start: parts judged, skipped and how its verdict compared with the live one
    (``verdicts``: "LIVE->SHADOW" -> parts; ``classes``: class -> [live fails, shadow fails, both])."""

    model_id: str
    state: str  # "loading" | "running" | "failed" | "stopped"
    judged: int = 0
    skipped: int = 0
    agreeing: int = 0
    verdicts: dict[str, int] = field(default_factory=dict)
    classes: dict[str, tuple[int, int, int]] = field(default_factory=dict)
    error: str | None = None

    @property
    def agreement(self) -> float | None:
        return self.agreeing / self.judged if self.judged else None

    def line(self) -> str:
        agree = "-" if self.agreement is None else f"{self.agreement:.1%}"
        return (f"shadow {self.model_id} ({self.state}): {self.judged} judged, {self.skipped} skipped, "
                f"verdict agreement {agree}")  # fmt: skip

    def as_dict(self) -> dict[str, Any]:
        return {
            "model_id": self.model_id, "state": self.state, "judged": self.judged, "skipped": self.skipped,
            "agreeing": self.agreeing, "agreement": self.agreement, "verdicts": dict(self.verdicts),
            "classes": {k: list(v) for k, v in self.classes.items()}, "error": self.error,
        }  # fmt: skip


class ShadowRunner:
    def __init__(
        self,
        config: ShadowConfig,
        load: Callable[[], Detector],
        rules_for: Callable[[str, tuple[str, ...]], RecipeRules],
        record: Callable[[ShadowResult], Future],
        busy: Callable[[], bool],
        iou: float,
    ) -> None:
        self.config = config
        self._load = load
        self._rules_for = rules_for
        self._record = record
        self._busy = busy
        self._iou = iou
        self._inbox: queue.Queue = queue.Queue(maxsize=1)
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None
        self._detector: Detector | None = None
        self._state = "loading"
        self._error: str | None = None
        self._judged = self._skipped = self._agreeing = 0
        self._verdicts: Counter[str] = Counter()
        self._classes: dict[str, list[int]] = {}
        self.model_id = str(config.release)
        self.ready = threading.Event()

    # ------------------------------------------------------------------ the station's side
    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="shadow", daemon=True)
        self._thread.start()

    def offer(self, committed: CommittedInspection) -> bool:
        """A live part, after its commit. Never blocks; False (and counted) when the shadow gives way."""
        insp = committed.inspection
        if insp.image is None or insp.verdict == Verdict.NOT_INSPECTED:
            return False  # nothing the live model judged: nothing to compare (not a skip)
        if self._state != "running" or (self.config.skip_when_busy and self._busy()):
            self._count_skip()
            return False
        try:
            self._inbox.put_nowait(committed)
        except queue.Full:
            self._count_skip()
            return False
        return True

    def status(self) -> ShadowStatus:
        with self._lock:
            return ShadowStatus(
                self.model_id, self._state, self._judged, self._skipped, self._agreeing, dict(self._verdicts),
                {k: (v[0], v[1], v[2]) for k, v in sorted(self._classes.items())}, self._error,
            )  # fmt: skip

    def stop(self, timeout: float = 10.0) -> ShadowStatus:
        if self._thread is not None:
            while True:  # the queue holds one part at most: drop it, the station is stopping
                try:
                    self._inbox.get_nowait()
                except queue.Empty:
                    break
            self._inbox.put(_STOP)
            self._thread.join(timeout)
        with self._lock:
            if self._state != "failed":
                self._state = "stopped"
        if self._detector is not None:
            self._detector.close()
        return self.status()

    # ------------------------------------------------------------------ the shadow thread
    def _run(self) -> None:
        _lower_priority(self.config.nice)
        try:
            self._detector = self._load()
            self.model_id = self._detector.info.model_id
        except Exception as exc:  # a bad candidate must not stop the live line
            log.exception("shadow model %s could not be loaded", self.config.release)
            with self._lock:
                self._state, self._error = "failed", f"{type(exc).__name__}: {exc}"
            self.ready.set()
            return
        with self._lock:
            self._state = "running"
        self.ready.set()
        while True:
            item = self._inbox.get()
            if item is _STOP:
                return
            try:
                self._judge(item)
            except Exception as exc:  # one bad part is logged and counted as skipped, the shadow goes on
                log.exception("shadow failed on inspection %s", item.inspection_id)
                self._count_skip(f"{type(exc).__name__}: {exc}")

    def _judge(self, committed: CommittedInspection) -> None:
        det = self._detector
        assert det is not None
        insp = committed.inspection
        image = insp.image
        assert image is not None
        rules = self._rules_for(insp.recipe, det.info.names)
        t0 = time.perf_counter()
        detections = det.detect(image, conf=rules.detector_conf, iou=self._iou)
        ms = (time.perf_counter() - t0) * 1000.0
        decision = rules.decide(detections, image.shape[:2])
        shadow_classes = tuple(sorted({r.class_name for r in decision.reasons if r.class_name}))
        live_classes = {r.class_name for r in insp.decision.reasons if r.class_name}
        verdict = decision.verdict.value
        live = insp.verdict.value
        self._record(ShadowResult(
            committed.inspection_id, insp.recipe, det.info.model_id, det.info.sha256, live, verdict,
            shadow_classes, tuple((d.class_name, d.confidence, d.box) for d in detections), ms,
        ))  # fmt: skip
        with self._lock:
            self._judged += 1
            self._agreeing += verdict == live
            self._verdicts[f"{live}->{verdict}"] += 1
            for c in live_classes | set(shadow_classes):
                tally = self._classes.setdefault(c, [0, 0, 0])
                tally[0] += c in live_classes
                tally[1] += c in shadow_classes
                tally[2] += c in live_classes and c in shadow_classes

    def _count_skip(self, error: str | None = None) -> None:
        with self._lock:
            self._skipped += 1
            if error:
                self._error = error


def shadow_runner(
    config: StationConfig,
    recipes: Callable[[], Mapping[str, RecipeConfig]],
    record: Callable[[ShadowResult], Future],
    busy: Callable[[], bool],
) -> ShadowRunner | None:
    """The station's shadow, wired from its config (None: no ``[shadow]``). ``recipes()``: the station's
    recipes as they are now (edits included: the shadow judges as the live line does); ``record``: the
    store's writer; ``busy()``: a live part is waiting."""
    cfg = config.shadow
    if not cfg.enabled or cfg.release is None:
        return None
    release = cfg.release
    rules: dict[tuple[str, tuple[str, ...]], tuple[RecipeConfig, RecipeRules]] = {}

    def rules_for(recipe: str, names: tuple[str, ...]) -> RecipeRules:
        current = recipes()[recipe]
        cached = rules.get((recipe, names))
        if cached is None or cached[0] is not current:
            cached = (current, RecipeRules(recipe, current, names))
            rules[(recipe, names)] = cached
        return cached[1]

    def load() -> Detector:
        from inspect_app.detector import load_detector

        # f32: "auto" would time every precision at start, competing for the CPU the line needs
        det = load_detector(release, cfg.backend, cfg.threads)
        det.warmup()
        return det

    return ShadowRunner(cfg, load, rules_for, record, busy, config.detector.iou)


def _lower_priority(nice: int) -> None:
    """Raise this thread's niceness by ``nice`` (Linux: per thread; elsewhere the whole process would be
    affected, so nothing is done). Not SCHED_IDLE: the shadow thread holds the GIL between its numpy and
    runtime calls, and a thread that the OS runs only on idle CPU time could keep it for as long as the
    machine is busy, stalling the live threads behind it; a niced thread still gets its share and lets go
    within the GIL's switch interval (bench_shadow measured SCHED_IDLE too: no better for the live parts)."""
    if nice <= 0 or not hasattr(os, "setpriority") or not sys.platform.startswith("linux"):
        return
    try:
        tid = threading.get_native_id()
        os.setpriority(os.PRIO_PROCESS, tid, min(19, os.getpriority(os.PRIO_PROCESS, tid) + nice))
    except OSError as exc:
        log.info("shadow thread keeps its priority: %s", exc)
