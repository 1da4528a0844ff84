"""What a part's reviews say about the whole part: a defect (it should FAIL), good (it should PASS), or
unclear (some FAIL reasons were judged false and others not judged at all).

* a ``confirmed_defect`` or ``missed_defect`` review: the part has a defect;
* otherwise ``false_reject`` reviews: good when they cover every stored FAIL reason (a review without a
  box covers the whole part; one with a box covers the reasons of its class overlapping it, IoU >= 0.5,
  as the reviews export drops them), else unclear.
"""

from __future__ import annotations

from collections.abc import Sequence

from inspect_app.replay.types import TRUTH_DEFECT, TRUTH_GOOD, TRUTH_UNCLEAR, Finding
from inspect_app.store.read import ReviewRecord
from inspect_app.types import iou

COVER_IOU = 0.5


def part_truth(reviews: Sequence[ReviewRecord], stored: Sequence[Finding]) -> str | None:
    """None when the part was not reviewed."""
    if not reviews:
        return None
    if any(r.kind in ("confirmed_defect", "missed_defect") for r in reviews):
        return TRUTH_DEFECT
    false = [r for r in reviews if r.kind == "false_reject"]
    if any(r.box is None for r in false):
        return TRUTH_GOOD
    for f in stored:
        covered = f.box is not None and any(
            (r.class_name in (None, f.class_name)) and r.box is not None and iou(r.box, f.box) >= COVER_IOU
            for r in false
        )
        if not covered:
            return TRUTH_UNCLEAR
    return TRUTH_GOOD
