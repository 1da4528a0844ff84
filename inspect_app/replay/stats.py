"""Counting a replay's outcomes: flips per direction and class, scores against reviews, and the yield change
with the uncertainty that replaying only some parts (1 in N PASS images kept) brings."""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Sequence

from inspect_app.metrics import yield_pct
from inspect_app.replay.types import (
    DIRECTIONS,
    FAIL_TO_PASS,
    PASS_TO_FAIL,
    TRUTH_DEFECT,
    TRUTH_GOOD,
    TRUTH_UNCLEAR,
    Interval,
    PartOutcome,
    ReviewScore,
    YieldEstimate,
)

Z95 = 1.959963984540054


def wilson(k: int, n: int, z: float = Z95) -> Interval:
    """Wilson score interval of a proportion k/n (95 % by default); [0, 1] when n == 0.

    Chosen over the normal approximation because flips are rare: with 0 of 50 it still gives an upper
    bound (7.1 %) instead of claiming 0 %."""
    if n <= 0:
        return Interval(0.0, 1.0)
    p = k / n
    denom = 1 + z * z / n
    centre = (p + z * z / (2 * n)) / denom
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / denom
    # exact ends at k == 0 and k == n (the formula leaves a float residue there)
    return Interval(0.0 if k == 0 else max(0.0, centre - half), 1.0 if k == n else min(1.0, centre + half))


def flip_counts(
    parts: Sequence[PartOutcome],
) -> tuple[dict[str, int], dict[str, dict[str, int]], dict[str, int]]:
    """(flips per direction, flips per direction and class, other verdict changes)."""
    flips = {d: 0 for d in DIRECTIONS}
    by_class: dict[str, Counter[str]] = {d: Counter() for d in DIRECTIONS}
    other: Counter[str] = Counter()
    for p in parts:
        if p.flip is not None:
            flips[p.flip] += 1
            by_class[p.flip].update(p.flip_classes or ("(none)",))
        elif p.changed:
            other[f"{p.stored_verdict}->{p.replayed_verdict}"] += 1
    return flips, {d: dict(sorted(c.items())) for d, c in by_class.items()}, dict(sorted(other.items()))


def review_score(parts: Sequence[PartOutcome]) -> ReviewScore:
    counts: Counter[str] = Counter()
    for p in parts:
        if p.truth is None:
            continue
        counts["reviewed"] += 1
        if not p.replayed:
            continue
        counts["replayed"] += 1
        if p.truth == TRUTH_UNCLEAR:
            counts["unclear"] += 1
            continue
        if p.truth == TRUTH_DEFECT:
            counts["defects_replayed"] += 1
            counts["defects_failing"] += p.replayed_verdict == "FAIL"
            counts["escapes_introduced"] += p.flip == FAIL_TO_PASS
            counts["escapes_caught"] += p.flip == PASS_TO_FAIL
        elif p.truth == TRUTH_GOOD:
            counts["good_replayed"] += 1
            counts["good_passing"] += p.replayed_verdict == "PASS"
            counts["false_rejects_removed"] += p.flip == FAIL_TO_PASS
            counts["false_rejects_introduced"] += p.flip == PASS_TO_FAIL
    return ReviewScore(**{k: int(v) for k, v in counts.items()})


def yield_estimate(parts: Sequence[PartOutcome]) -> YieldEstimate:
    """Stored yield of the selected parts and the candidate's, extended from the replayed parts."""
    passed = sum(p.stored_verdict == "PASS" for p in parts)
    failed = sum(p.stored_verdict == "FAIL" for p in parts)
    pass_rep = [p for p in parts if p.stored_verdict == "PASS" and p.replayed]
    fail_rep = [p for p in parts if p.stored_verdict == "FAIL" and p.replayed]
    k_pf = sum(p.flip == PASS_TO_FAIL for p in pass_rep)
    k_fp = sum(p.flip == FAIL_TO_PASS for p in fail_rep)
    before = yield_pct(passed, failed)
    decided = passed + failed
    exact = len(pass_rep) == passed and len(fail_rep) == failed
    if decided == 0 or (not pass_rep and passed) or (not fail_rep and failed):
        why = (
            "no decided part was selected"
            if decided == 0
            else (f"no stored {'PASS' if passed and not pass_rep else 'FAIL'} part could be replayed")
        )
        return YieldEstimate(passed, failed, len(pass_rep), len(fail_rep), k_pf, k_fp, before, None, None,
                             None, False, f"The yield change cannot be estimated: {why}.")  # fmt: skip
    r_pf = k_pf / len(pass_rep) if pass_rep else 0.0
    r_fp = k_fp / len(fail_rep) if fail_rep else 0.0
    after = 100.0 * (passed * (1 - r_pf) + failed * r_fp) / decided
    if exact:
        return YieldEstimate(
            passed, failed, len(pass_rep), len(fail_rep), k_pf, k_fp, before, round(after, 2),
            Interval(round(after, 2), round(after, 2)), round(after - (before or 0.0), 2), True,
            f"Every one of the {decided} decided parts was replayed: the yield would go from {before:.2f} % "
            f"to {after:.2f} % on these parts (exact, no sampling).",
        )  # fmt: skip
    # a side replayed in full is known exactly; only a sampled side gets an interval
    pf = wilson(k_pf, len(pass_rep)) if len(pass_rep) < passed else Interval(r_pf, r_pf)
    fp = wilson(k_fp, len(fail_rep)) if len(fail_rep) < failed else Interval(r_fp, r_fp)
    low = 100.0 * (passed * (1 - pf.high) + failed * fp.low) / decided
    high = 100.0 * (passed * (1 - pf.low) + failed * fp.high) / decided
    parts_text = []
    if len(pass_rep) < passed:
        parts_text.append(
            f"only {len(pass_rep)} of the {passed} stored PASS parts could be replayed (the station keeps "
            f"1 in N PASS images), and {k_pf} of them flipped to FAIL: between {100 * pf.low:.2f} % and "
            f"{100 * pf.high:.2f} % of all PASS parts would FAIL (95 % Wilson interval, treating the kept "
            f"images as a random sample of the PASS parts)"
        )
    if len(fail_rep) < failed:
        parts_text.append(
            f"{len(fail_rep)} of the {failed} stored FAIL parts could be replayed ({k_fp} flipped to PASS: "
            f"{100 * fp.low:.2f} % to {100 * fp.high:.2f} % of all FAIL parts)"
        )
    statement = (
        f"Estimated yield {after:.2f} % (95 % interval {low:.2f} % to {high:.2f} %) against {before:.2f} % "
        f"stored: " + "; ".join(parts_text) + "."
    )
    return YieldEstimate(
        passed, failed, len(pass_rep), len(fail_rep), k_pf, k_fp, before, round(after, 2),
        Interval(round(low, 2), round(high, 2)), round(after - (before or 0.0), 2), False, statement,
    )  # fmt: skip


__all__ = ["TRUTH_GOOD", "flip_counts", "review_score", "wilson", "yield_estimate"]
