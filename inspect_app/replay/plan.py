"""Planning a replay: the candidate recipe checked, what is known of each release, and for every stored part
whether it is replayed from its stored detections, from its image, or not at all (and why)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from inspect_app.config import RecipeConfig, StationConfig
from inspect_app.protocols import Detector, ModelInfo
from inspect_app.replay.recipe_history import RecipeHistory
from inspect_app.replay.types import ReplayFilters
from inspect_app.rules import RecipeError, RecipeRules
from inspect_app.store.read import InspectionRecord

MODES = ("auto", "detections", "image")


class ReplayError(ValueError):
    """The replay cannot run as asked (a candidate recipe that does not fit its model, an unknown mode)."""


class ReplayCancelled(Exception):
    """``should_stop`` said stop (the recipe editor's edit changed while its preview ran)."""


@dataclass(frozen=True, slots=True)
class Plan:
    """How one stored part is replayed."""

    record: InspectionRecord
    live: RecipeConfig | None
    candidate: RecipeConfig | None
    model: str | None  # the candidate's release directory
    mode: str  # "detections" / "image" / "" (not replayable: why_not)
    why_not: str | None = None


def recipe_changes(
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


def as_recipe(recipe: RecipeConfig | Mapping[str, Any] | None) -> RecipeConfig | None:
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


class Names:
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


class RulesCache:
    def __init__(self, names: Names) -> None:
        self.names = names
        self._cache: dict[tuple[str, str, str], RecipeRules] = {}

    def get(self, label: str, recipe: RecipeConfig, model: str) -> RecipeRules:
        key = (label, recipe.model_dump_json(), model)
        if key not in self._cache:
            self._cache[key] = RecipeRules(label, recipe, self.names.names(model))
        return self._cache[key]


def plan_part(
    rec: InspectionRecord,
    config: StationConfig,
    candidate: RecipeConfig | None,
    release: str | None,
    mode: str,
    names: Names,
    rules: RulesCache,
    history: RecipeHistory,
) -> Plan:
    live = config.recipes.get(rec.recipe)
    cand = candidate or live
    if rec.verdict not in ("PASS", "FAIL"):
        return Plan(rec, live, cand, None, "", f"stored {rec.verdict}: no verdict to compare")
    if cand is None:
        return Plan(rec, live, cand, None, "", f"recipe '{rec.recipe}' is not in the config")
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
            return Plan(rec, live, cand, model, "detections")
        if mode == "detections":
            why = ("inspected with another model" if not same_model
                   else "the candidate needs detections below what its recipe asked for")  # fmt: skip
            return Plan(rec, live, cand, model, "", f"not replayable from detections: {why}")
    if mode == "detections":
        return Plan(rec, live, cand, model, "", "not replayable from detections: its recipe is unknown")
    if not rec.image_path:
        why = (
            "no image kept (the station keeps 1 in N PASS images)"
            if rec.verdict == "PASS"
            else "no image kept"
        )
        return Plan(rec, live, cand, model, "", why)
    if rec.image_deleted:
        return Plan(rec, live, cand, model, "", "image deleted by retention")
    return Plan(rec, live, cand, model, "image")
