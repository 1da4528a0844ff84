"""Replaying parts from their stored images: read, checked against the stored sha256 and decoded as the
station's sources decode (a damaged file is never judged), then the station's detector (``detect_many``
where it keeps several inferences in flight) and rules."""

from __future__ import annotations

import hashlib
from collections import deque
from collections.abc import Callable, Iterator, Mapping, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path

import numpy as np

from inspect_app.config import StationConfig
from inspect_app.protocols import CorruptFrame, Detector
from inspect_app.replay.outcome import findings_of, make_outcome
from inspect_app.replay.plan import Names, Plan, ReplayCancelled, RulesCache
from inspect_app.replay.types import PartOutcome
from inspect_app.rules import RecipeRules
from inspect_app.store.read import InspectionRecord, ReviewRecord
from inspect_app.types import Detection

PREFETCH = 8  # images decoded ahead of the detector (decoding releases the GIL)


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


def replay_images(
    plans: Sequence[Plan],
    config: StationConfig,
    base: Path,
    names: Names,
    rules: RulesCache,
    reviews: Mapping[int, list[ReviewRecord]],
    finished: Callable[[PartOutcome], None],
    stop: Callable[[], bool],
    streams: int | None,
) -> None:
    groups: dict[tuple[str, float], list[tuple[Plan, RecipeRules]]] = {}
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
    from inspect_app.detector.threads import detector_settings

    d = config.detector
    # a replay is a throughput line: the thread plan's settings for free run, unless the caller or config says
    run = detector_settings("free_run", d.backend, d.threads, streams if streams is not None else d.streams)
    det = load_detector(
        model, d.backend, run.threads, file=d.file, precision=d.precision, allow_bf16=d.allow_bf16,
        streams=run.streams,
    )  # fmt: skip
    det.warmup()
    return det


def _replay_group(
    detector: Detector,
    conf: float,
    iou: float,
    items: Sequence[tuple[Plan, RecipeRules]],
    base: Path,
    pool: ThreadPoolExecutor,
    reviews: Mapping[int, list[ReviewRecord]],
    finished: Callable[[PartOutcome], None],
    stop: Callable[[], bool],
) -> None:
    """Images decoded ``PREFETCH`` ahead in threads, run through ``detect_many`` where the detector has it
    (parts in flight), else one by one; results come back in order."""
    accepted: deque[tuple[Plan, RecipeRules, tuple[int, int]]] = deque()

    def images() -> Iterator[np.ndarray]:
        window: deque[tuple[Plan, RecipeRules, Future]] = deque()
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
                finished(make_outcome(plan, None, (), reviews, image, mode="image"))
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
        finished(make_outcome(plan, decision, findings_of(decision), reviews))
