"""What-if replay: stored inspections re-judged by a candidate release and/or recipe, with the verdict
flips, their scores against reviews and the yield change (``inspect-app replay``, the recipe editor's
preview, the promotion gate)."""

from inspect_app.replay.engine import MODES, ReplayCancelled, ReplayError, run_replay
from inspect_app.replay.types import (
    DIRECTIONS,
    FAIL_TO_PASS,
    PASS_TO_FAIL,
    TRUTH_DEFECT,
    TRUTH_GOOD,
    TRUTH_UNCLEAR,
    Finding,
    Interval,
    PartOutcome,
    ReplayFilters,
    ReplayReport,
    ReviewScore,
    YieldEstimate,
)

__all__ = [
    "DIRECTIONS",
    "FAIL_TO_PASS",
    "MODES",
    "PASS_TO_FAIL",
    "TRUTH_DEFECT",
    "TRUTH_GOOD",
    "TRUTH_UNCLEAR",
    "Finding",
    "Interval",
    "PartOutcome",
    "ReplayCancelled",
    "ReplayError",
    "ReplayFilters",
    "ReplayReport",
    "ReviewScore",
    "YieldEstimate",
    "run_replay",
]
