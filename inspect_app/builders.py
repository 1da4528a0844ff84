"""Build the station's stages from its config (kept apart so tests can inject fakes instead)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from inspect_app.config import StationConfig
from inspect_app.protocols import Detector, FrameSource, ResultStore
from inspect_app.types import StatusEvent


def build_source(config: StationConfig) -> FrameSource:
    from inspect_app.sources import make_source

    return make_source(config.source)


def build_detectors(config: StationConfig) -> dict[str, Detector]:
    """One detector per distinct model release of the recipes, all loaded and verified up front:
    a bad model stops the start instead of failing the first part after a recipe switch."""
    from inspect_app.model_release import ModelError
    from inspect_app.station import StartupError

    detectors: dict[str, Detector] = {}
    for name, recipe in config.recipes.items():
        if recipe.model in detectors:
            continue
        try:
            detectors[recipe.model] = load_station_detector(recipe.model, config)
        except ModelError as exc:
            for d in detectors.values():
                d.close()
            raise StartupError(f"recipes.{name}.model: {exc}") from None
    return detectors


def load_station_detector(model_dir: str, config: StationConfig, under_load: bool = False) -> Detector:
    """The detector of one release as the station runs it, warmed: ``[detector]`` settings, and threads and
    streams from the thread plan where the config leaves them unset (``threads.detector_settings``).
    ``under_load``: the line is running (a model switch), so precision auto's timing is not remembered."""
    from inspect_app.detector import load_detector
    from inspect_app.detector.threads import detector_settings

    c = config.detector
    run = detector_settings(config.trigger.mode, c.backend, c.threads, c.streams)
    det = load_detector(
        model_dir, c.backend, run.threads, file=c.file, precision=c.precision, allow_bf16=c.allow_bf16,
        streams=run.streams, cache_dir=Path(config.state_dir) / "cache" if c.cache else None,
        under_load=under_load,
    )  # fmt: skip
    det.warmup()  # the first part must not pay for graph compilation
    return det


def build_store(config: StationConfig, on_event: Callable[[StatusEvent], None]) -> ResultStore:
    from inspect_app.store import ImageArchive, SqliteResultStore

    state = Path(config.state_dir)
    images = ImageArchive(state / config.store.images_dir, config.store, base=state)
    store = SqliteResultStore(state / config.store.db, images, config.store, station=config.station.name)
    store.add_event_listener(on_event)
    return store
