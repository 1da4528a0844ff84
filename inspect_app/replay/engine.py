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

import hashlib
import json
import time
from collections import Counter, deque
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np

from inspect_app.config import RecipeConfig, StationConfig
from inspect_app.protocols import CorruptFrame, Detector, ModelInfo
from inspect_app.replay.recipe_history import RecipeHistory
from inspect_app.replay.reviews import part_truth
from inspect_app.replay.stats import flip_counts, review_score, yield_estimate
from inspect_app.replay.types import Finding, PartOutcome, ReplayFilters, ReplayReport
from inspect_app.rules import RecipeError, RecipeRules
from inspect_app.store.read import InspectionRecord, ResultsReader, ReviewRecord
from inspect_app.types import Decision, Detection

MODES = ("auto", "detections", "image")
PREFETCH = 8  # images decoded ahead of the detector (decoding releases the GIL)
Progress = Callable[[int, int], None]
_ALL = ReplayFilters()


class ReplayError(ValueError):
    """The replay cannot run as asked (a candidate recipe that does not fit its model, an unknown mode)."""


class ReplayCancelled(Exception):
    """``should_stop`` said stop (the recipe editor's edit changed while its preview ran)."""


@dataclass(frozen=True, slots=True)
class _Plan:
    """How one stored part is replayed."""

    record: InspectionRecord
    live: RecipeConfig | None
    candidate: RecipeConfig | None
    model: str | None  # the candidate's release directory
    mode: str  # "detections" / "image" / "" (not replayable: why_not)
    why_not: str | None = None


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
    recipe = _as_recipe(candidate_recipe)
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
    names = _Names(detectors or {}, model_infos or {})
    rules = _RulesCache(names)
    plans = [_plan(rec, config, recipe, release, mode, names, rules, history) for rec in records]
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
            finished(_outcome(plan, None, (), reviews, plan.why_not))
    image_plans = [p for p in plans if p.mode == "image"]
    if image_plans:
        _replay_images(image_plans, config, base, names, rules, reviews, finished, stop, streams)
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
            "recipe_changes": _changes(config, records, filters, recipe),
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


# ---------------------------------------------------------------------------------------------- planning
def _changes(
    config: StationConfig,
    records: Sequence[InspectionRecord],
    filters: ReplayFilters,
    recipe: RecipeConfig | None,
) -> dict[str, list[Any]]:
    """What the candidate recipe changes against the live one ("min_conf": [0.4, 0.8]; class rules as
    "classes.pit.max_count"), when the replayed parts are of one recipe; {} otherwise."""
    names = {filters.recipe} if filters.recipe else {r.recipe for r in records}
    if recipe is None or len(names) != 1 or next(iter(names)) not in config.recipes:
        return {}
    live, cand = _decisive(config.recipes[next(iter(names))]), _decisive(recipe)
    return {
        k: [live.get(k), cand.get(k)] for k in sorted(set(live) | set(cand)) if live.get(k) != cand.get(k)
    }


def _decisive(recipe: RecipeConfig) -> dict[str, Any]:
    """The recipe's fields that decide a verdict, flat; class rules without their defaults."""
    data = recipe.model_dump(mode="json", exclude={"display_names", "description", "camera", "classes"})
    data["classes"] = {k: v.model_dump(mode="json", exclude_defaults=True) for k, v in recipe.classes.items()}
    return _flat(data)


def _flat(data: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
    out: dict[str, Any] = {}
    for k, v in data.items():
        if isinstance(v, Mapping) and k != "roi":
            out.update(_flat(v, f"{prefix}{k}."))
        elif v is not None:
            out[f"{prefix}{k}"] = v
    return out


def _as_recipe(recipe: RecipeConfig | Mapping[str, Any] | None) -> RecipeConfig | None:
    if recipe is None or isinstance(recipe, RecipeConfig):
        return recipe
    from pydantic import ValidationError

    try:
        return RecipeConfig.model_validate(dict(recipe))
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in e['loc']) or 'recipe'}: {e['msg']}" for e in exc.errors()
        )
        raise ReplayError(f"candidate recipe: {problems}") from None


class _Names:
    """Class names and model ids of releases, from loaded detectors or the release manifest (no model is
    loaded for a replay of stored detections)."""

    def __init__(self, detectors: Mapping[str, Detector], infos: Mapping[str, ModelInfo]) -> None:
        self.detectors = dict(detectors)
        self.infos = {**dict(infos), **{k: d.info for k, d in detectors.items()}}
        self._release: dict[str, tuple[tuple[str, ...], str]] = {}
        self._shas: dict[str, set[str]] = {}

    def _info(self, model: str) -> tuple[tuple[str, ...], str]:
        if model in self.infos:
            info = self.infos[model]
            return tuple(info.names), info.model_id
        if model not in self._release:
            from inspect_app.model_release import load_release

            rel = load_release(model, verify=[])
            self._release[model] = (tuple(rel.names), rel.model_id)
        return self._release[model]

    def names(self, model: str) -> tuple[str, ...]:
        return self._info(model)[0]

    def shas(self, model: str) -> set[str]:
        """sha256 of every model file of the release (any precision), and of the file its detector runs."""
        if model not in self._shas:
            found: set[str] = set()
            if model in self.infos:
                found.add(self.infos[model].sha256)
            try:
                from inspect_app.model_release import load_release

                found.update(e.sha256 for e in load_release(model, verify=[]).files.values())
            except Exception:  # noqa: BLE001  a detector without a release on disk (tests' fakes): its own sha
                pass
            self._shas[model] = found
        return self._shas[model]

    def model_id(self, model: str) -> str | None:
        try:
            return self._info(model)[1]
        except Exception:  # noqa: BLE001  a report field: a release that cannot be read has no id to show
            return None


class _RulesCache:
    def __init__(self, names: _Names) -> None:
        self.names = names
        self._cache: dict[tuple[str, str, str], RecipeRules] = {}

    def get(self, label: str, recipe: RecipeConfig, model: str) -> RecipeRules:
        key = (label, recipe.model_dump_json(), model)
        if key not in self._cache:
            self._cache[key] = RecipeRules(label, recipe, self.names.names(model))
        return self._cache[key]


def _plan(
    rec: InspectionRecord,
    config: StationConfig,
    candidate: RecipeConfig | None,
    release: str | None,
    mode: str,
    names: _Names,
    rules: _RulesCache,
    history: RecipeHistory,
) -> _Plan:
    live = config.recipes.get(rec.recipe)
    cand = candidate or live
    if rec.verdict not in ("PASS", "FAIL"):
        return _Plan(rec, live, cand, None, "", f"stored {rec.verdict}: no verdict to compare")
    if cand is None:
        return _Plan(rec, live, cand, None, "", f"recipe '{rec.recipe}' is not in the config")
    model = release or cand.model
    try:
        cand_rules = rules.get(f"candidate:{rec.recipe}", cand, model)
    except RecipeError as exc:
        raise ReplayError(f"candidate recipe: {exc}") from None
    if mode != "image" and live is not None and rec.detections is not None:
        # the same release, by name and version and by the sha256 of the file that judged the part: a
        # release rebuilt under the same version would otherwise pass as the same model
        same_model = (
            rec.model_id is not None and names.model_id(model) == rec.model_id
            and (rec.model_sha256 is None or rec.model_sha256 in names.shas(model))
        )  # fmt: skip
        try:  # what the recipe(s) that judged the part asked the detector for: the floor of what is stored
            live_conf = max(
                rules.get(rec.recipe, r, live.model).detector_conf
                for r in history.judged_with(rec.recipe, rec.epoch, live)
            )
        except (RecipeError, OSError, ValueError):
            live_conf = None
        if same_model and live_conf is not None and cand_rules.detector_conf >= live_conf:
            return _Plan(rec, live, cand, model, "detections")
        if mode == "detections":
            why = ("inspected with another model" if not same_model
                   else "the candidate needs detections below what its recipe asked for")  # fmt: skip
            return _Plan(rec, live, cand, model, "", f"not replayable from detections: {why}")
    if mode == "detections":
        return _Plan(rec, live, cand, model, "", "not replayable from detections: its recipe is unknown")
    if not rec.image_path:
        why = (
            "no image kept (the station keeps 1 in N PASS images)"
            if rec.verdict == "PASS"
            else "no image kept"
        )
        return _Plan(rec, live, cand, model, "", why)
    if rec.image_deleted:
        return _Plan(rec, live, cand, model, "", "image deleted by retention")
    return _Plan(rec, live, cand, model, "image")


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


# ---------------------------------------------------------------------------------------------- deciding
def _stored_findings(rec: InspectionRecord) -> tuple[Finding, ...]:
    out = []
    for r in rec.reasons:
        if r.get("class_name"):
            box = r.get("box")
            out.append(Finding(r["class_name"], r.get("confidence"), tuple(box) if box else None))  # type: ignore[arg-type]
    return tuple(out)


def _findings(decision: Decision) -> tuple[Finding, ...]:
    return tuple(Finding(r.class_name, r.confidence, r.box) for r in decision.reasons if r.class_name)


def _outcome(
    plan: _Plan,
    decision: Decision | None,
    findings: tuple[Finding, ...],
    reviews: Mapping[int, list[ReviewRecord]],
    why_not: str | None = None,
    mode: str | None = None,
) -> PartOutcome:
    rec = plan.record
    stored = _stored_findings(rec)
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


def _decide_stored(
    plan: _Plan,
    rules: _RulesCache,
    shape: tuple[int, int] | None,
    reviews: Mapping[int, list[ReviewRecord]],
) -> PartOutcome:
    rec = plan.record
    assert plan.candidate is not None and plan.model is not None and rec.detections is not None
    dets = [Detection(d.class_id, d.class_name, d.confidence, d.box) for d in rec.detections]
    decision = rules.get(f"candidate:{rec.recipe}", plan.candidate, plan.model).decide(
        dets, shape or (1 << 20, 1 << 20)
    )
    return _outcome(plan, decision, _findings(decision), reviews)


# ---------------------------------------------------------------------------------------------- images
def _load_image(base: Path, rec: InspectionRecord) -> np.ndarray | str:
    """The decoded image, or why it cannot be replayed."""
    from inspect_app.sources.decode import decode_image

    path = base / str(rec.image_path)
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        return "image file missing"
    except OSError as exc:
        return f"image unreadable: {exc.strerror or exc}"
    if rec.image_sha256 and hashlib.sha256(data).hexdigest() != rec.image_sha256:
        return "image corrupt (sha256 differs from the stored one)"
    try:
        return decode_image(data, str(rec.image_path))
    except CorruptFrame as exc:
        return f"image corrupt ({exc.code})"


def _replay_images(
    plans: Sequence[_Plan],
    config: StationConfig,
    base: Path,
    names: _Names,
    rules: _RulesCache,
    reviews: Mapping[int, list[ReviewRecord]],
    finished: Callable[[PartOutcome], None],
    stop: Callable[[], bool],
    streams: int | None,
) -> None:
    groups: dict[tuple[str, float], list[tuple[_Plan, RecipeRules]]] = {}
    for plan in plans:
        assert plan.candidate is not None and plan.model is not None
        r = rules.get(f"candidate:{plan.record.recipe}", plan.candidate, plan.model)
        groups.setdefault((plan.model, r.detector_conf), []).append((plan, r))
    loaded: dict[str, Detector] = {}
    try:
        with ThreadPoolExecutor(max_workers=2, thread_name_prefix="replay-decode") as pool:
            for (model, conf), items in groups.items():
                detector = names.detectors.get(model) or loaded.get(model)
                if detector is None:
                    detector = loaded[model] = _load_detector(model, config, streams)
                _replay_group(detector, conf, config.detector.iou, items, base, pool, reviews, finished, stop)
    finally:
        for det in loaded.values():
            det.close()


def _load_detector(model: str, config: StationConfig, streams: int | None) -> Detector:
    """The candidate's detector as the config runs it, but for throughput: no part of a replay waits for
    its verdict, so OpenVINO gets the thread plan's streams (``streams`` None; [detector] threads or
    streams set in the config win)."""
    from inspect_app.detector import load_detector
    from inspect_app.detector.threads import plan

    d, threads = config.detector, config.detector.threads
    if streams is None:
        streams = d.streams
        if d.backend == "openvino" and d.streams == 1 and d.threads is None:
            p = plan()
            streams, threads = p.throughput_streams, p.throughput_threads
    det = load_detector(
        model, d.backend, threads, file=d.file, precision=d.precision, allow_bf16=d.allow_bf16,
        streams=streams,
    )  # fmt: skip
    det.warmup()
    return det


def _replay_group(
    detector: Detector,
    conf: float,
    iou: float,
    items: Sequence[tuple[_Plan, RecipeRules]],
    base: Path,
    pool: ThreadPoolExecutor,
    reviews: Mapping[int, list[ReviewRecord]],
    finished: Callable[[PartOutcome], None],
    stop: Callable[[], bool],
) -> None:
    """Images decoded ``PREFETCH`` ahead in threads, run through ``detect_many`` where the detector has it
    (parts in flight), else one by one; results come back in order."""
    accepted: deque[tuple[_Plan, RecipeRules, tuple[int, int]]] = deque()

    def images() -> Iterator[np.ndarray]:
        window: deque[tuple[_Plan, RecipeRules, Future]] = deque()
        it = iter(items)
        while True:
            while len(window) < PREFETCH:
                nxt = next(it, None)
                if nxt is None:
                    break
                window.append((nxt[0], nxt[1], pool.submit(_load_image, base, nxt[0].record)))
            if not window:
                return
            if stop():
                raise ReplayCancelled
            plan, r, future = window.popleft()
            image = future.result()
            if isinstance(image, str):
                finished(_outcome(plan, None, (), reviews, image, mode="image"))
                continue
            accepted.append((plan, r, image.shape[:2]))
            yield image

    many = getattr(detector, "detect_many", None)
    if many is not None:
        results: Iterator[list[Detection]] = many(images(), conf, iou)
    else:
        results = (detector.detect(image, conf=conf, iou=iou) for image in images())
    for dets in results:
        plan, r, shape = accepted.popleft()
        decision = r.decide(dets, shape)
        finished(_outcome(plan, decision, _findings(decision), reviews))


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


def report_json(report: ReplayReport) -> str:
    return json.dumps(report.as_dict(), indent=2, default=str)
