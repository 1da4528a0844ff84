"""Replay stored inspections through a candidate release and/or a candidate recipe.

The candidate is judged by the station's own code: its detector (``load_detector``, the configured backend,
threads and precision; ``detect_many`` where the backend runs parts in flight) and its ``RecipeRules``,
called as the detect stage calls them (``detect(image, conf=rules.detector_conf, iou)``, then
``decide(detections, image shape)``). Nothing of the rules is written again here.

Two ways to replay a part, chosen per part (``mode="auto"``):

* ``detections``: the stored detections are decided again. Exact, and fast enough for the recipe editor's
  preview over thousands of parts, but valid only when the candidate runs the same model the part was
  inspected with and needs no detection below what that recipe asked the detector for (the live recipe's
  lowest ``min_conf``): the detector reported, and the store kept, everything above it.
* ``image``: the stored image is decoded as the sources decode (a damaged file is never judged) and
  inspected again. Only parts with a kept image can be replayed this way: every FAIL, 1 in N PASS.

A part that cannot be replayed is counted, with why, and never as agreeing.
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from inspect_app.config import RecipeConfig, StationConfig
from inspect_app.protocols import CorruptFrame, Detector, ModelInfo
from inspect_app.replay.images import replay_images
from inspect_app.replay.outcome import findings_of, make_outcome
from inspect_app.replay.plan import (
    MODES,
    Names,
    Plan,
    ReplayCancelled,
    ReplayError,
    RulesCache,
    as_recipe,
    plan_part,
    recipe_changes,
)
from inspect_app.replay.recipe_history import RecipeHistory
from inspect_app.replay.stats import flip_counts, review_score, yield_estimate
from inspect_app.replay.types import PartOutcome, ReplayFilters, ReplayReport
from inspect_app.store.read import InspectionRecord, ResultsReader, ReviewRecord
from inspect_app.types import Detection

__all__ = ["MODES", "ReplayCancelled", "ReplayError", "run_replay"]

Progress = Callable[[int, int], None]
_ALL = ReplayFilters()


def run_replay(
    db_path: str | Path,
    *,
    candidate_release: str | Path | None = None,
    candidate_recipe: RecipeConfig | Mapping[str, Any] | None = None,
    filters: ReplayFilters = _ALL,
    progress: Progress | None = None,
    config: StationConfig,
    mode: str = "auto",
    detectors: Mapping[str, Detector] | None = None,
    model_infos: Mapping[str, ModelInfo] | None = None,
    should_stop: Callable[[], bool] | None = None,
    state_dir: str | Path | None = None,
    streams: int | None = None,
) -> ReplayReport:
    """Replay the stored inspections ``filters`` select.

    ``config``: the live station config (its recipes are what the parts were judged with; its detector
    settings are the ones the candidate runs with). ``candidate_release``: a release directory to run
    instead of each recipe's model. ``candidate_recipe``: the rules to apply instead of each part's recipe
    (its ``model`` too, unless ``candidate_release`` is given); filter by recipe to replay one recipe's
    parts. Without either, the live model and recipe are replayed: that must give 0 flips.

    ``detectors``: already loaded detectors by release directory (the station's, or fakes in tests); the
    others are loaded here and closed after. ``model_infos``: what is known of releases by directory (class
    names, model id) without a detector, e.g. the running station's (a replay of stored detections needs no
    more). ``should_stop()`` true: ReplayCancelled is raised. ``state_dir``: where stored image paths are
    relative to (default: the folder of ``db_path``). ``progress(done, total)`` is called as parts finish.
    ``streams``: OpenVINO streams of a detector loaded here (None: the config's, else the thread plan's
    throughput streams).
    """
    if mode not in MODES:
        raise ReplayError(f"unknown replay mode '{mode}' (choose one of: {', '.join(MODES)})")
    t0 = time.monotonic()
    db_path = Path(db_path)
    base = Path(state_dir) if state_dir is not None else db_path.parent
    recipe = as_recipe(candidate_recipe)
    release = str(candidate_release) if candidate_release is not None else None
    stop = should_stop or (lambda: False)
    with ResultsReader(db_path) as reader:
        records = list(
            reader.iter_range(
                since_epoch=filters.since_epoch, until_epoch=filters.until_epoch, recipe=filters.recipe,
                verdict=filters.verdict, reviewed=filters.reviewed, last_n=filters.last,
            )
        )  # fmt: skip
        reviews = _reviews_by_part(reader.reviews(), {r.id for r in records})
        history = RecipeHistory.from_audit(reader.audit(1 << 30), config.pipeline.stall_timeout_s)
    names = Names(detectors or {}, model_infos or {})
    rules = RulesCache(names)
    plans = [plan_part(rec, config, recipe, release, mode, names, rules, history) for rec in records]
    total = len(plans)
    outcomes: dict[int, PartOutcome] = {}
    done = 0

    def finished(outcome: PartOutcome) -> None:
        nonlocal done
        outcomes[outcome.inspection_id] = outcome
        done += 1
        if progress is not None and (done % 16 == 0 or done == total):
            progress(done, total)

    shape = _typical_shape(base, records)
    notes: list[str] = []
    if shape is None and any(p.mode == "detections" for p in plans):
        notes.append("no stored image could be read: ROI-outside-image was not checked for detection replays")
    for plan in plans:
        if plan.mode == "detections":
            if stop():
                raise ReplayCancelled
            finished(_decide_stored(plan, rules, shape, reviews))
        elif plan.mode == "":
            finished(make_outcome(plan, None, (), reviews, plan.why_not))
    image_plans = [p for p in plans if p.mode == "image"]
    if image_plans:
        replay_images(image_plans, config, base, names, rules, reviews, finished, stop, streams)
    parts = tuple(outcomes[r.id] for r in records)
    flips, by_class, other = flip_counts(parts)
    not_replayable = Counter(p.why_not or "?" for p in parts if not p.replayed)
    used = {p.mode for p in parts if p.replayed}
    return ReplayReport(
        created=datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        db_path=str(db_path),
        state_dir=str(base),
        live={
            name: {"model": r.model, "model_id": names.model_id(r.model)}
            for name, r in sorted(config.recipes.items())
            if any(rec.recipe == name for rec in records)
        },
        candidate={
            "release": release,
            "model_id": names.model_id(release) if release else None,
            "recipe": recipe.model_dump(mode="json", exclude_none=True) if recipe is not None else None,
            "recipe_changes": recipe_changes(config, records, filters, recipe),
            "mode": mode,
        },
        filters=filters,
        mode="mixed" if len(used) > 1 else (used.pop() if used else "none"),
        parts=parts,
        selected=len(parts),
        not_replayable=dict(sorted(not_replayable.items())),
        flips=flips,
        flips_by_class=by_class,
        other_changes=other,
        reviews=review_score(parts),
        yield_estimate=yield_estimate(parts),
        pass_sampling=_sampling_text(parts, config),
        seconds=round(time.monotonic() - t0, 3),
        notes=tuple(notes),
    )


def _reviews_by_part(reviews: Iterable[ReviewRecord], ids: set[int]) -> dict[int, list[ReviewRecord]]:
    out: dict[int, list[ReviewRecord]] = {}
    for r in reviews:
        if r.inspection_id in ids:
            out.setdefault(r.inspection_id, []).append(r)
    return out


def _typical_shape(base: Path, records: Sequence[InspectionRecord]) -> tuple[int, int] | None:
    """The image size of the station's camera, from the first stored image that can be read: a replay of
    stored detections needs it for the recipe's ROI-outside-image check, and keeps no image of most PASS
    parts. One station has one source, so one size."""
    from inspect_app.sources.decode import read_header

    for rec in records:
        if rec.image_kept:
            try:
                data = (base / rec.image_path).read_bytes()  # type: ignore[operator]
                header = read_header(data, str(rec.image_path))
            except (OSError, CorruptFrame):
                continue
            return header.height, header.width
    return None


def _decide_stored(
    plan: Plan,
    rules: RulesCache,
    shape: tuple[int, int] | None,
    reviews: Mapping[int, list[ReviewRecord]],
) -> PartOutcome:
    rec = plan.record
    assert plan.candidate is not None and plan.model is not None and rec.detections is not None
    dets = [Detection(d.class_id, d.class_name, d.confidence, d.box) for d in rec.detections]
    decision = rules.get(f"candidate:{rec.recipe}", plan.candidate, plan.model).decide(
        dets, shape or (1 << 20, 1 << 20)
    )
    return make_outcome(plan, decision, findings_of(decision), reviews)


def _sampling_text(parts: Sequence[PartOutcome], config: StationConfig) -> str:
    passed = [p for p in parts if p.stored_verdict == "PASS"]
    if not passed:
        return "No stored PASS part was selected."
    by_image = sum(p.replayed and p.mode == "image" for p in passed)
    by_dets = sum(p.replayed and p.mode == "detections" for p in passed)
    every = config.store.save_pass_every
    kept = f"1 in {every}" if every else "no"
    if by_dets == len(passed):
        return (f"All {len(passed)} stored PASS parts were replayed from their stored detections, so the "
                f"PASS image sampling ({kept} PASS images kept) does not limit this replay.")  # fmt: skip
    return (
        f"The station keeps {kept} PASS images: {by_image} of the {len(passed)} stored PASS parts were "
        f"replayed from their image"
        + (f" and {by_dets} from their stored detections" if by_dets else "")
        + f"; the other {len(passed) - by_image - by_dets} could not be replayed, so flips among PASS parts "
        "are an estimate from a sample (see the yield interval)."
    )
