"""Which detections of an inspection are *defects* for the PLC and the MES: the ones its recipe counted
toward FAIL (the class-bearing reasons of the decision), not every box the model reported. A part that
PASSes has none, whatever the detector saw; all detections are published apart (DetectionCount)."""

from __future__ import annotations

from inspect_app.types import Inspection


def counted_defects(insp: Inspection) -> list[str]:
    """One class name per defect that made the part FAIL, in the decision's order."""
    return [r.class_name for r in insp.decision.reasons if r.class_name]


def defect_classes(insp: Inspection) -> list[str]:
    return sorted(set(counted_defects(insp)))
