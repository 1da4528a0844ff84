"""The gate a candidate release must pass before it goes live (``models promote``, the window's model switch).

The station owns it (no Lightning here): it judges the candidate on the line's own reviewed parts and on its
agreement with the live model, not only on a test set someone else picked.

* **confirmed defects**: every reviewed part that really is defective (``confirmed_defect``,
  ``missed_defect``) and could be replayed must still FAIL with the candidate: one escape refuses it.
* **false rejects**: of the reviewed false rejects that could be replayed, at least
  ``promotion.false_reject_pass_min`` must PASS with the candidate.
* **agreement**: on the replayed parts (or the shadowed ones, when the candidate ran as the shadow model),
  the candidate's verdict equals the live one on at least ``promotion.agreement_min`` of them, over at least
  ``promotion.min_parts`` parts.
* **test metrics**: each of ``promotion.metrics`` in the candidate's manifest (``metrics.test``) is at most
  ``promotion.metric_tolerance`` below the live release's.

A reviewed part whose image is gone (retention, or a PASS not sampled) cannot be replayed: it is counted and
shown, never counted as a pass of the gate's checks. A check with nothing to judge passes and says so.
Evidence is gathered by ``gate_evidence`` (replay, shadow rows); ``evaluate_gate`` is the pure decision.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from inspect_app.config_quality import PromotionConfig

# what the reviews say about a whole part (the replay's terms): a defect, or a good part wrongly rejected
DEFECT = "defect"
GOOD = "good"


@dataclass(frozen=True, slots=True)
class ReviewedOutcome:
    """A reviewed part replayed through the candidate (``candidate_verdict`` None: it could not be)."""

    inspection_id: int
    truth: str  # DEFECT, GOOD, or anything else (unclear: not judged by the gate)
    stored_verdict: str
    candidate_verdict: str | None
    why_not: str | None = None  # why it could not be replayed (the replay's words)


@dataclass(frozen=True, slots=True)
class GateEvidence:
    candidate: str  # NAME/VERSION
    live: str | None
    reviewed: tuple[ReviewedOutcome, ...] = ()
    agreement_parts: int = 0  # parts judged by both models
    agreeing_parts: int = 0
    agreement_source: str = "none"  # "replay" | "shadow" | "none"
    live_metrics: Mapping[str, Any] = field(default_factory=dict)  # the manifests' metrics.test
    candidate_metrics: Mapping[str, Any] = field(default_factory=dict)

    @property
    def agreement(self) -> float | None:
        return self.agreeing_parts / self.agreement_parts if self.agreement_parts else None


@dataclass(frozen=True, slots=True)
class GateCheck:
    name: str
    passed: bool
    detail: str  # English, for the CLI, the log and the audit
    figures: Mapping[str, Any] = field(default_factory=dict)  # the numbers in detail, for other languages


@dataclass(frozen=True, slots=True)
class GateResult:
    candidate: str
    live: str | None
    checks: tuple[GateCheck, ...]

    @property
    def passed(self) -> bool:
        return all(c.passed for c in self.checks)

    def failed(self) -> list[GateCheck]:
        return [c for c in self.checks if not c.passed]

    def lines(self) -> list[str]:
        verdict = "PASSED" if self.passed else "REFUSED"
        head = f"gate {verdict}: {self.candidate} (live: {self.live or 'none'})"
        return [head] + [f"  [{'ok' if c.passed else 'NO'}] {c.name}: {c.detail}" for c in self.checks]

    def as_dict(self) -> dict[str, Any]:
        return {
            "candidate": self.candidate, "live": self.live, "passed": self.passed,
            "checks": [{"name": c.name, "passed": c.passed, "detail": c.detail} for c in self.checks],
        }  # fmt: skip


def evaluate_gate(evidence: GateEvidence, config: PromotionConfig) -> GateResult:
    checks = (
        _defects(evidence.reviewed),
        _false_rejects(evidence.reviewed, config.false_reject_pass_min),
        _agreement(evidence, config),
        *_metrics(evidence, config),
    )
    return GateResult(evidence.candidate, evidence.live, checks)


def _defects(reviewed: Sequence[ReviewedOutcome]) -> GateCheck:
    defects = [r for r in reviewed if r.truth == DEFECT]
    judged = [r for r in defects if r.candidate_verdict is not None]
    escapes = [r.inspection_id for r in judged if r.candidate_verdict != "FAIL"]
    note = _not_replayed(defects)
    if not defects:
        return GateCheck("confirmed defects", True, "no reviewed defects to check")
    if not judged:  # passes as "nothing to check" does, but says there was no evidence, not that all FAIL
        return GateCheck("confirmed defects", True, f"none of the {len(defects)} reviewed defects could be "
                         f"replayed{note}")  # fmt: skip
    if escapes:
        shown = ", ".join(str(i) for i in escapes[:10]) + (" ..." if len(escapes) > 10 else "")
        return GateCheck(
            "confirmed defects", False,
            f"{len(escapes)} of {len(judged)} reviewed defects would PASS (inspections {shown}){note}",
            {"escapes": len(escapes), "judged": len(judged), "ids": shown},
        )  # fmt: skip
    return GateCheck("confirmed defects", True, f"all {len(judged)} reviewed defects still FAIL{note}")


def _false_rejects(reviewed: Sequence[ReviewedOutcome], needed: float) -> GateCheck:
    # a false reject: reviewed good although the live model failed it
    rejects = [r for r in reviewed if r.truth == GOOD and r.stored_verdict == "FAIL"]
    judged = [r for r in rejects if r.candidate_verdict is not None]
    note = _not_replayed(rejects)
    if not judged:
        return GateCheck("false rejects", True, f"no reviewed false rejects to check{note}")
    passed = sum(r.candidate_verdict == "PASS" for r in judged)
    share = passed / len(judged)
    return GateCheck(
        "false rejects", share >= needed,
        f"{passed} of {len(judged)} reviewed false rejects PASS ({share:.0%}, needed {needed:.0%}){note}",
        {"passed": passed, "judged": len(judged), "share": share, "needed": needed},
    )  # fmt: skip


def _not_replayed(parts: Sequence[ReviewedOutcome]) -> str:
    why = Counter(r.why_not or "unknown" for r in parts if r.candidate_verdict is None)
    if not why:
        return ""
    return f"; {sum(why.values())} could not be replayed: " + ", ".join(f"{n} {w}" for w, n in why.items())


def _agreement(evidence: GateEvidence, config: PromotionConfig) -> GateCheck:
    n, agree = evidence.agreement_parts, evidence.agreement
    if agree is None:
        ok = config.min_parts == 0
        detail = "no replayed or shadowed parts" + ("" if ok else f" (at least {config.min_parts} needed)")
        return GateCheck("agreement", ok, detail, {"min_parts": config.min_parts})
    enough = n >= config.min_parts
    detail = (f"{evidence.agreeing_parts} of {n} {evidence.agreement_source} parts agree with the live "
              f"verdict ({agree:.1%}, needed {config.agreement_min:.0%})")  # fmt: skip
    if not enough:
        detail += f"; only {n} parts, at least {config.min_parts} needed"
    figures = {"agreeing": evidence.agreeing_parts, "parts": n, "share": agree,
               "needed": config.agreement_min, "min_parts": config.min_parts}  # fmt: skip
    return GateCheck("agreement", enough and agree >= config.agreement_min, detail, figures)


def _metrics(evidence: GateEvidence, config: PromotionConfig) -> list[GateCheck]:
    out = []
    for name in config.metrics:
        live, cand = evidence.live_metrics.get(name), evidence.candidate_metrics.get(name)
        if not isinstance(live, int | float) or not isinstance(cand, int | float):
            out.append(GateCheck(f"test {name}", True, "not compared (not in both manifests' metrics.test)"))
            continue
        ok = cand >= live - config.metric_tolerance
        out.append(GateCheck(
            f"test {name}", ok,
            f"{cand:.4f} vs live {live:.4f} (may be at most {config.metric_tolerance} lower)",
            {"metric": name, "candidate": cand, "live": live, "tolerance": config.metric_tolerance},
        ))  # fmt: skip
    return out
