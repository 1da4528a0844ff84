"""The station's side of the shadow model (``[shadow]``): started with the station, fed after each commit,
stopped before the store closes. A mixin of ``Station``, like ``StationAdmin``; see ``shadow.py``."""

from __future__ import annotations

import queue
from concurrent.futures import Future
from typing import Any

from inspect_app.config import StationConfig
from inspect_app.protocols import Detector
from inspect_app.rules import RecipeRules
from inspect_app.shadow import ShadowRunner, ShadowStatus
from inspect_app.store.schema import ShadowResult
from inspect_app.types import CommittedInspection, Severity


class StationShadow:
    # provided by Station
    config: StationConfig
    _store: Any
    _triggers: queue.Queue
    _detect_q: queue.Queue
    iou: float

    def _emit(self, kind: str, severity: Severity, message: str, **payload: object) -> None: ...

    _shadow: ShadowRunner | None = None

    def shadow_status(self) -> ShadowStatus | None:
        """The shadow model's tallies (None: no shadow configured)."""
        return self._shadow.status() if self._shadow is not None else None

    def _make_shadow(self) -> None:
        cfg = self.config.shadow
        if not cfg.enabled or cfg.release is None:
            return
        rules: dict[tuple[str, tuple[str, ...]], tuple[object, RecipeRules]] = {}

        def rules_for(recipe: str, names: tuple[str, ...]) -> RecipeRules:
            current = self.config.recipes[recipe]  # edits included: the shadow judges as the live line does
            cached = rules.get((recipe, names))
            if cached is None or cached[0] is not current:
                cached = (current, RecipeRules(recipe, current, names))
                rules[(recipe, names)] = cached
            return cached[1]

        self._shadow = ShadowRunner(
            cfg, self._load_shadow_detector, rules_for, self._record_shadow, self._line_busy, self.iou
        )

    def _load_shadow_detector(self) -> Detector:
        from inspect_app.detector import load_detector

        s = self.config.shadow
        assert s.release is not None
        # the shadow's precision is f32 unless the candidate is timed like the live one: "auto" would time
        # every precision at start, competing with the live model for the CPU it must not take
        det = load_detector(s.release, s.backend, s.threads)
        det.warmup()
        return det

    def _record_shadow(self, result: ShadowResult) -> Future:
        return self._store.record_shadow(result)

    def _line_busy(self) -> bool:
        """A live part is waiting for the camera or the detector: the CPU is the line's."""
        return self._detect_q.qsize() > 0 or self._triggers.qsize() > 0

    def _start_shadow(self) -> None:
        if self._shadow is not None:
            self._shadow.start()
            self._emit("shadow", Severity.INFO, f"shadow model {self.config.shadow.release} starting "
                       "(its verdicts are stored apart and never used)")  # fmt: skip

    def _offer_shadow(self, committed: CommittedInspection) -> None:
        if self._shadow is not None:
            self._shadow.offer(committed)

    def _stop_shadow(self) -> None:
        if self._shadow is None:
            return
        status = self._shadow.stop()
        self._emit("shadow", Severity.INFO, f"shadow stopped: {status.line()}", **status.as_dict())
