"""One line for a loaded model as it runs, the same wherever the station says it (the "models loaded" event,
health and the headless start line): release, runtime, the precision it really computes in, streams, and
for ``precision = "auto"`` the timings that chose it."""

from __future__ import annotations

from typing import Any


def describe(detector: Any) -> str:
    info = detector.info
    streams = getattr(detector, "streams", 1)
    many = f", {streams} streams" if streams > 1 else ""
    choice = getattr(detector, "precision_choice", None)  # inspect_app.detector.precision.PrecisionChoice
    why = f"; {choice.line()}" if choice is not None else ""
    return f"{info.model_id} ({info.backend} {info.precision}{many}){why}"
