"""MES counters: what a line's MES reads from the station, computed from the station's public API only.

Counters are those of the running station process (they start at zero with it); the lifetime history is in
``results.db``, which GetResultListFiltered and the reports read.

``YieldPct`` is the yield of decided parts, PASS / (PASS + FAIL): a part that was not inspected (camera
lost, missed trigger, station in Error) says nothing about the product, so it is neither good nor bad here;
it is counted in ``NotInspected``. ``MissedTriggers`` is the station's own count, which already includes
every trigger the handshake refused (they are recorded through ``Station.record_missed``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from asyncua import ua

from inspect_app.types import CommittedInspection

if TYPE_CHECKING:
    from inspect_app.station import Station

# name -> OPC UA type; the order is the order of the nodes in the Counters folder
COUNTER_TYPES: dict[str, ua.VariantType] = {
    "Total": ua.VariantType.UInt32,
    "Pass": ua.VariantType.UInt32,
    "Fail": ua.VariantType.UInt32,
    "NotInspected": ua.VariantType.UInt32,
    "MissedTriggers": ua.VariantType.UInt32,
    "YieldPct": ua.VariantType.Double,
    "LastCycleTimeMs": ua.VariantType.Double,
    "ActiveRecipe": ua.VariantType.String,
    "ModelName": ua.VariantType.String,
    "ModelVersion": ua.VariantType.String,
    "ModelSha256": ua.VariantType.String,
    "ModelPrecision": ua.VariantType.String,
}


def cycle_time_ms(committed: CommittedInspection) -> float:
    """Trigger to verdict, as the station measured it (the DB commit adds the store's batching delay)."""
    t = committed.inspection.timings_ms
    if "total" in t:
        return round(float(t["total"]), 3)
    return round(sum(float(v) for v in t.values()), 3)


def model_of_active_recipe(station: Station) -> tuple[str, str, str, str]:
    """(name, version, sha256, precision) of the model the active recipe uses (precision: what the runtime
    computes in, the auto choice included); empty strings when it is not loaded."""
    recipe = station.config.recipes.get(station.recipe)
    det = station.models().get(recipe.model) if recipe else None
    if det is None:
        return "", "", "", ""
    return det.info.name, det.info.version, det.info.sha256, det.info.precision


def yield_of_decided(passed: int, failed: int) -> float:
    decided = passed + failed
    return round(100.0 * passed / decided, 2) if decided else 0.0


def mes_counters(station: Station, last: CommittedInspection | None) -> dict[str, object]:
    c = station.counters
    name, version, sha, precision = model_of_active_recipe(station)
    return {
        "Total": int(c["total"]),
        "Pass": int(c["pass"]),
        "Fail": int(c["fail"]),
        "NotInspected": int(c["not_inspected"]),
        "MissedTriggers": int(c["missed_triggers"]),
        "YieldPct": yield_of_decided(int(c["pass"]), int(c["fail"])),
        "LastCycleTimeMs": cycle_time_ms(last) if last else 0.0,
        "ActiveRecipe": station.recipe,
        "ModelName": name,
        "ModelVersion": version,
        "ModelSha256": sha,
        "ModelPrecision": precision,
    }
