"""One replayed part's outcome: its stored and replayed FAIL reasons and what its reviews say."""

from __future__ import annotations

from collections.abc import Mapping

from inspect_app.replay.plan import Plan
from inspect_app.replay.reviews import part_truth
from inspect_app.replay.types import Finding, PartOutcome
from inspect_app.store.read import InspectionRecord, ReviewRecord
from inspect_app.types import Decision


def stored_findings(rec: InspectionRecord) -> tuple[Finding, ...]:
    out = []
    for r in rec.reasons:
        if r.get("class_name"):
            box = r.get("box")
            out.append(Finding(r["class_name"], r.get("confidence"), tuple(box) if box else None))  # type: ignore[arg-type]
    return tuple(out)


def findings_of(decision: Decision) -> tuple[Finding, ...]:
    return tuple(Finding(r.class_name, r.confidence, r.box) for r in decision.reasons if r.class_name)


def make_outcome(
    plan: Plan,
    decision: Decision | None,
    findings: tuple[Finding, ...],
    reviews: Mapping[int, list[ReviewRecord]],
    why_not: str | None = None,
    mode: str | None = None,
) -> PartOutcome:
    rec = plan.record
    stored = stored_findings(rec)
    part_reviews = reviews.get(rec.id, [])
    return PartOutcome(
        inspection_id=rec.id,
        part_id=rec.part_id,
        time=rec.time,
        epoch=rec.epoch,
        recipe=rec.recipe,
        stored_verdict=rec.verdict,
        replayed_verdict=decision.verdict.value if decision is not None else None,
        stored_findings=stored,
        replayed_findings=findings,
        truth=part_truth(part_reviews, stored),
        review_kinds=tuple(r.kind for r in part_reviews),
        image_path=rec.image_path if rec.image_kept else None,
        mode=mode or plan.mode or "none",
        why_not=why_not,
    )
