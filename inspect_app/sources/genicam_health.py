"""A GenICam camera's health as data (``GenicamStatus``) and as events: frames incomplete or missing,
packets resent, temperature.

The status lights and ``inspect-app status`` read ``SourceStatus.message`` through the station's health
snapshot; the events table gets one "camera" event per heartbeat that saw new trouble (never one per
frame: a lossy link would flood it) and one when the temperature crosses ``temperature_max_c`` (cleared
2 °C below it, so it does not flap).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from inspect_app.sources.camera_state import SourceStatus
from inspect_app.sources.genicam_ledger import LedgerCounts
from inspect_app.types import Severity

_TEMPERATURE_HYSTERESIS_C = 2.0


@dataclass(frozen=True, slots=True)
class GenicamStatus(SourceStatus):
    ledger: LedgerCounts | None = None
    resent_packets: int = 0
    missing_packets: int = 0
    temperature_c: float | None = None
    trigger_latency_ms: float | None = None  # the last TriggerSoftware -> frame arrival
    camera: str = ""  # model and serial, once known


def summary(counts: LedgerCounts, resent: int, temperature_c: float | None) -> str:
    """The counters that say how the link is doing, for the status line."""
    dropped = sum(counts.dropped.values())
    parts = [
        f"{counts.delivered} frames used",
        f"{dropped} dropped",
        f"{counts.incomplete} incomplete",
        f"{counts.missing} missing",
        f"{resent} packets resent",
    ]
    if temperature_c is not None:
        parts.append(f"{temperature_c:.1f} °C")
    return ", ".join(parts)


@dataclass(frozen=True, slots=True)
class HealthEvent:
    severity: Severity
    message: str
    payload: dict[str, Any]


class HealthReporter:
    """Turns counters read at each heartbeat into the few events worth a row."""

    def __init__(self, label: str, temperature_max_c: float | None) -> None:
        self.label = label
        self.temperature_max_c = temperature_max_c
        self._seen = {"incomplete": 0, "missing": 0, "resent_packets": 0}
        self._hot = False

    def check(self, counts: LedgerCounts, resent: int, temperature_c: float | None) -> list[HealthEvent]:
        events: list[HealthEvent] = []
        now = {"incomplete": counts.incomplete, "missing": counts.missing, "resent_packets": resent}
        new = {k: v - self._seen[k] for k, v in now.items() if v > self._seen[k]}
        self._seen = now
        if new:
            text = ", ".join(f"{n} {k.replace('_', ' ')}" for k, n in new.items())
            events.append(HealthEvent(Severity.WARNING, f"{self.label}: {text} since the last check",
                                      {**new, "totals": now}))  # fmt: skip
        limit = self.temperature_max_c
        if temperature_c is not None and limit is not None:
            if not self._hot and temperature_c > limit:
                self._hot = True
                events.append(HealthEvent(
                    Severity.WARNING, f"{self.label}: {temperature_c:.1f} °C, above {limit:g} °C",
                    {"temperature_c": temperature_c, "limit_c": limit},
                ))  # fmt: skip
            elif self._hot and temperature_c < limit - _TEMPERATURE_HYSTERESIS_C:
                self._hot = False
                events.append(HealthEvent(
                    Severity.INFO, f"{self.label}: {temperature_c:.1f} °C, back under {limit:g} °C",
                    {"temperature_c": temperature_c, "limit_c": limit},
                ))  # fmt: skip
        return events
