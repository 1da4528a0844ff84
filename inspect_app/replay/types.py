"""What a replay is asked (``ReplayFilters``) and what it answers (``PartOutcome``, ``ReplayReport``).

Frozen dataclasses, as everything between the station's stages: the gate of ``models promote``, the CLI's
HTML/JSON report and the recipe editor's preview read the same report.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from typing import Any

from inspect_app.types import Box

PASS_TO_FAIL = "PASS->FAIL"
FAIL_TO_PASS = "FAIL->PASS"
DIRECTIONS = (PASS_TO_FAIL, FAIL_TO_PASS)

# what a review says about a whole part (see replay.reviews)
TRUTH_DEFECT = "defect"
TRUTH_GOOD = "good"
TRUTH_UNCLEAR = "unclear"


@dataclass(frozen=True, slots=True)
class ReplayFilters:
    """Which stored inspections to replay; empty/None filters match everything.

    ``last``: only the newest ``last`` inspections that match the other filters (replayed oldest first).
    ``reviewed``: True, only parts someone reviewed; False, only parts nobody reviewed.
    """

    since_epoch: float | None = None
    until_epoch: float | None = None
    recipe: str = ""
    verdict: str = ""
    reviewed: bool | None = None
    last: int | None = None

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True, slots=True)
class Finding:
    """One FAIL reason (or counted detection) of a part, stored or replayed."""

    class_name: str
    confidence: float | None
    box: Box | None


@dataclass(frozen=True, slots=True)
class PartOutcome:
    """One stored inspection and what the candidate decides for it.

    ``replayed_verdict`` is None when the part could not be replayed (``why_not`` says why: its image was
    not kept, is missing or corrupt, its recipe is unknown...): such a part is never counted as agreeing.
    """

    inspection_id: int
    part_id: str
    time: str
    epoch: float
    recipe: str
    stored_verdict: str
    replayed_verdict: str | None
    stored_findings: tuple[Finding, ...]
    replayed_findings: tuple[Finding, ...]
    truth: str | None  # TRUTH_DEFECT / TRUTH_GOOD / TRUTH_UNCLEAR from reviews; None: not reviewed
    review_kinds: tuple[str, ...]
    image_path: str | None  # relative to the state dir, as stored
    mode: str  # "detections": stored detections re-decided; "image": the stored image re-inspected
    why_not: str | None = None

    @property
    def replayed(self) -> bool:
        return self.replayed_verdict is not None

    @property
    def flip(self) -> str | None:
        """PASS->FAIL, FAIL->PASS, or None (same verdict, not replayed, or a change to/from NOT_INSPECTED)."""
        pair = f"{self.stored_verdict}->{self.replayed_verdict}"
        return pair if pair in DIRECTIONS else None

    @property
    def changed(self) -> bool:
        """Any verdict change, NOT_INSPECTED included."""
        return self.replayed and self.replayed_verdict != self.stored_verdict

    @property
    def stored_classes(self) -> tuple[str, ...]:
        return tuple(sorted({f.class_name for f in self.stored_findings}))

    @property
    def replayed_classes(self) -> tuple[str, ...]:
        return tuple(sorted({f.class_name for f in self.replayed_findings}))

    @property
    def flip_classes(self) -> tuple[str, ...]:
        """The classes a flip is about: the new FAIL's classes (PASS->FAIL), the old FAIL's (FAIL->PASS)."""
        if self.flip == PASS_TO_FAIL:
            return self.replayed_classes
        if self.flip == FAIL_TO_PASS:
            return self.stored_classes
        return ()

    def as_dict(self) -> dict[str, Any]:
        out = asdict(self)
        out["flip"] = self.flip
        return out


@dataclass(frozen=True, slots=True)
class ReviewScore:
    """Flips of reviewed parts, judged by their reviews.

    escapes_introduced: a reviewed defect that FAILed and would now PASS (the worst outcome);
    false_rejects_removed: a part reviewed good that FAILed and would now PASS;
    false_rejects_introduced: a part reviewed good that PASSed and would now FAIL;
    escapes_caught: a reviewed missed defect that PASSed and would now FAIL.
    ``defects_failing`` / ``defects_replayed``: reviewed defects the candidate FAILs, of those replayed;
    ``good_passing`` / ``good_replayed``: the same for parts reviewed good.
    """

    reviewed: int = 0
    replayed: int = 0
    escapes_introduced: int = 0
    false_rejects_removed: int = 0
    false_rejects_introduced: int = 0
    escapes_caught: int = 0
    defects_replayed: int = 0
    defects_failing: int = 0
    good_replayed: int = 0
    good_passing: int = 0
    unclear: int = 0


@dataclass(frozen=True, slots=True)
class Interval:
    low: float
    high: float


@dataclass(frozen=True, slots=True)
class YieldEstimate:
    """The yield of the selected parts as stored and as the candidate would make it.

    Where every part could be replayed the new yield is exact (``exact``); otherwise the flip rates of the
    replayed PASS and FAIL parts are extended to all of them, with 95 % Wilson intervals
    (``statement`` says so in words, with the numbers).
    """

    passed: int
    failed: int
    pass_replayed: int
    fail_replayed: int
    pass_to_fail: int
    fail_to_pass: int
    yield_before_pct: float | None
    yield_after_pct: float | None
    yield_after_interval_pct: Interval | None
    change_pct: float | None
    exact: bool
    statement: str


@dataclass(frozen=True, slots=True)
class ReplayReport:
    """The answer of ``run_replay``; ``to_json()`` is its file form."""

    created: str
    db_path: str
    state_dir: str
    live: Mapping[str, Any]  # recipe name -> {"model": ..., "model_id": ...} the parts were judged with
    candidate: Mapping[str, Any]  # {"release": ..., "model_id": ..., "recipe": {...} or None}
    filters: ReplayFilters
    mode: str  # "detections", "image" or "mixed"
    parts: tuple[PartOutcome, ...]
    selected: int
    not_replayable: Mapping[str, int]  # why -> parts
    flips: Mapping[str, int]  # direction -> parts
    flips_by_class: Mapping[str, Mapping[str, int]]  # direction -> class -> parts
    other_changes: Mapping[str, int]  # e.g. "PASS->NOT_INSPECTED" -> parts
    reviews: ReviewScore
    yield_estimate: YieldEstimate
    pass_sampling: str  # what the PASS image sampling means for this replay, in words
    seconds: float = 0.0
    notes: tuple[str, ...] = field(default_factory=tuple)

    @property
    def replayed(self) -> int:
        return sum(1 for p in self.parts if p.replayed)

    @property
    def n_flips(self) -> int:
        return sum(self.flips.values())

    @property
    def agreement(self) -> float | None:
        """Share of replayed parts whose verdict did not change; None when none could be replayed."""
        n = self.replayed
        return None if n == 0 else sum(1 for p in self.parts if p.replayed and not p.changed) / n

    def flipped(self) -> list[PartOutcome]:
        return [p for p in self.parts if p.flip is not None]

    def summary_line(self) -> str:
        r = self.reviews
        return (
            f"on {self.selected} part(s) ({self.replayed} replayed): {self.n_flips} flip(s) "
            f"({self.flips.get(PASS_TO_FAIL, 0)} PASS->FAIL, {self.flips.get(FAIL_TO_PASS, 0)} FAIL->PASS), "
            f"{r.false_rejects_removed} false reject(s) fixed, {r.escapes_introduced} new escape(s)"
        )

    def as_dict(self) -> dict[str, Any]:
        out = {
            "created": self.created,
            "db_path": self.db_path,
            "state_dir": self.state_dir,
            "live": dict(self.live),
            "candidate": dict(self.candidate),
            "filters": self.filters.as_dict(),
            "mode": self.mode,
            "selected": self.selected,
            "replayed": self.replayed,
            "agreement": self.agreement,
            "not_replayable": dict(self.not_replayable),
            "flips": dict(self.flips),
            "flips_by_class": {k: dict(v) for k, v in self.flips_by_class.items()},
            "other_changes": dict(self.other_changes),
            "reviews": asdict(self.reviews),
            "yield": asdict(self.yield_estimate),
            "pass_sampling": self.pass_sampling,
            "seconds": self.seconds,
            "notes": list(self.notes),
            "summary": self.summary_line(),
            "parts": [p.as_dict() for p in self.parts],
        }
        return out

    def to_json(self, indent: int | None = 2) -> str:
        return json.dumps(self.as_dict(), indent=indent, default=str)
