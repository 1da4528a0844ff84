"""``[detector] precision = "auto"``: at start, time each precision this release and this CPU offer, keep the
fastest.

Which precision is fastest depends on the CPU, not on the model: bf16 is 1.7x faster than f32 on a CPU with
bf16 units and slower without them (OpenVINO then emulates it), and int8 gains most where the CPU has VNNI.
So the station measures instead of guessing: every candidate is compiled and warmed, then timed in
interleaved rounds (a noisy neighbour slows them all alike) on the same input for half a second, and the
median decides. A less exact precision must beat the more exact one by ``MARGIN`` to be chosen: within the
noise, the model as validated wins.

Candidates: f32 always; int8 where the release ships an int8 model that passed its accuracy gate; bf16
only with the recipe owner's consent (``allow_bf16``) and on a CPU that has bf16 units. Only OpenVINO runs
more than f32.
"""

from __future__ import annotations

import logging
import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass

from inspect_app.model_release import Release

log = logging.getLogger(__name__)

ORDER = ("f32", "bf16", "int8")  # most exact first
MARGIN = 0.05  # a less exact precision must be this much faster
BUDGET_S = 0.5  # timing only; compiling the candidates (int8: ~1 s) comes on top
MIN_ROUNDS, MAX_ROUNDS = 10, 30


@dataclass(frozen=True, slots=True)
class PrecisionChoice:
    """What ``auto`` chose and why: the median inference time of each candidate on this CPU."""

    chosen: str
    median_ms: tuple[tuple[str, float], ...]  # (precision, ms) in ORDER
    rounds: int
    skipped: tuple[tuple[str, str], ...] = ()  # (precision, why it was not a candidate)
    measured_at: str | None = None  # set when the choice was remembered from an earlier start (UTC)
    under_load: bool = False  # timed beside a running line's own inferences: used now, not remembered

    def line(self) -> str:
        timed = ", ".join(f"{p} {ms:.2f} ms" for p, ms in self.median_ms)
        if timed and self.measured_at:
            timed += f", median of {self.rounds}, timed at {self.measured_at} (precision_memo)"
        elif timed:
            timed += f", median of {self.rounds}"
        text = f"precision auto: {self.chosen}" + (f" ({timed})" if timed else "")
        if self.skipped:
            text += "; not tried: " + ", ".join(f"{p} ({why})" for p, why in self.skipped)
        if self.under_load:
            text += "; timed while the line ran, so not remembered: the next start times it again"
        return text


def cpu_has_bf16() -> bool:
    import openvino as ov

    return "BF16" in ov.Core().get_property("CPU", "OPTIMIZATION_CAPABILITIES")


def candidates(release: Release, backend: str, allow_bf16: bool) -> tuple[list[str], list[tuple[str, str]]]:
    """(precisions to time, [(precision, why not)]) for this release, backend and CPU."""
    offered = release.offered()
    if backend != "openvino":
        return ["f32"], [(p, f"backend {backend} runs f32 only") for p in ("bf16", "int8")]
    out, skipped = ["f32"], []
    if not allow_bf16:
        skipped.append(("bf16", "not allowed: [detector] allow_bf16 = false"))
    elif not cpu_has_bf16():
        skipped.append(("bf16", "this CPU has no bf16 units"))
    else:
        out.append("bf16")
    if "int8" in offered:
        out.append("int8")
    elif "int8" in release.precisions:
        skipped.append(("int8", "the release's int8 model failed its accuracy gate"))
    else:
        skipped.append(("int8", "the release has no int8 model"))
    return out, skipped


def choose(
    detectors: dict[str, object],
    infer: Callable[[str, object], object],
    budget_s: float = BUDGET_S,
) -> tuple[str, tuple[tuple[str, float], ...], int]:
    """Time ``infer(precision, detector)`` for every candidate (already warmed) in interleaved rounds,
    rotating who goes first; returns (chosen precision, medians in ms, rounds)."""
    names = [p for p in ORDER if p in detectors]
    if len(names) == 1:
        return names[0], (), 0
    times: dict[str, list[float]] = {p: [] for p in names}
    started = time.perf_counter()
    rounds = 0
    while rounds < MAX_ROUNDS and (rounds < MIN_ROUNDS or time.perf_counter() - started < budget_s):
        for k in range(len(names)):
            p = names[(rounds + k) % len(names)]
            t = time.perf_counter()
            infer(p, detectors[p])
            times[p].append((time.perf_counter() - t) * 1000)
        rounds += 1
    medians = {p: statistics.median(v) for p, v in times.items()}
    best = names[0]
    for p in names[1:]:
        if medians[p] < medians[best] * (1 - MARGIN):
            best = p
    return best, tuple((p, round(medians[p], 3)) for p in names), rounds
