"""The station's administrative API: reviews, audit, counter reset, recipe edits and model switches.

A mixin of ``Station`` (kept apart so station.py stays about the pipeline). Every write goes through the
results store's writer thread, like the inspections: callers (the UI's Qt thread, the control socket) never
touch the database, and get a ``Future`` that resolves to the row id once the row is committed.

Roles are the caller's business: the runtime records who did what with which role, the UI decides who
may (engineer mode). Recipe edits and model switches are validated against the model's classes with
``RecipeRules`` before anything changes, and apply from the next part on.
"""

from __future__ import annotations

import json
import threading
from concurrent.futures import Future
from pathlib import Path
from typing import TYPE_CHECKING, Any

from inspect_app.config import ConfigError, RecipeConfig, StationConfig
from inspect_app.config_file import save_recipe
from inspect_app.rules import RecipeError, RecipeRules
from inspect_app.store.schema import REVIEW_KINDS, AuditEntry, Review, StoreClosed
from inspect_app.types import Box, Severity

if TYPE_CHECKING:
    from inspect_app.protocols import Detector


class StationAdmin:
    """Mixed into ``Station``; uses its config, rules, detectors, counters, store and event stream."""

    # provided by Station
    config: StationConfig
    _rules: dict[str, RecipeRules]
    _detectors: dict[str, Detector]
    _done: threading.Condition
    _counters: dict[str, int]
    _counter_base: dict[str, int]
    _recipe_lock: threading.Lock
    _save_lock: threading.Lock
    _store: Any

    def _emit(self, kind: str, severity: Severity, message: str, **payload: object) -> None: ...
    def _recheck_roi(self) -> None: ...

    # ------------------------------------------------------------------ reviews and audit
    def review(
        self,
        inspection_id: int,
        kind: str,
        who: str,
        class_name: str | None = None,
        box: Box | None = None,
        note: str = "",
    ) -> Future:
        """Record a person's judgement of one result: ``confirmed_defect`` / ``false_reject`` (optionally of
        the detection at ``box``) or ``missed_defect`` (``class_name`` and ``box`` required). Never blocks;
        the future resolves to the review's row id, or fails if the inspection does not exist."""
        if kind not in REVIEW_KINDS:
            raise ValueError(f"review kind must be one of {', '.join(REVIEW_KINDS)}, not {kind!r}")
        if kind == "missed_defect" and (box is None or class_name is None):
            raise ValueError("a missed_defect review needs the class and the box of the missed defect")
        if class_name is not None and class_name not in self._known_classes():
            known = ", ".join(self._known_classes())
            raise ValueError(f"unknown class {class_name!r}; the models know {known}")
        if box is not None:
            x1, y1, x2, y2 = (float(v) for v in box)
            if x2 <= x1 or y2 <= y1:
                raise ValueError("box must be (x1, y1, x2, y2) with x2 > x1 and y2 > y1")
            box = (x1, y1, x2, y2)
        return self._writer().record_review(
            Review(int(inspection_id), kind, who, class_name, box, note)
        )

    def audit(self, who: str, role: str, action: str, target: str, old: object, new: object) -> Future:
        """Write an audit row (who, role, action, target, old -> new). Values that are not text are stored
        as JSON. The future resolves to the row id after the commit."""
        return self._writer().record_audit(AuditEntry(who, role, action, target, _text(old), _text(new)))

    # ------------------------------------------------------------------ counters
    def reset_counters(self, who: str, role: str = "operator") -> Future:
        """Zero the shift counters (``counters``) and record it; ``wait_for_results`` still counts every
        result since start, so waiters are not confused by a reset."""
        with self._done:
            before = {k: v - self._counter_base.get(k, 0) for k, v in self._counters.items()}
            self._counter_base = dict(self._counters)
        self._emit("counters", Severity.INFO, f"counters reset by {who}", old=before, who=who)
        return self.audit(who, role, "counters.reset", "counters", before, {k: 0 for k in before})

    # ------------------------------------------------------------------ recipes and models
    def set_recipe_config(self, name: str, recipe: RecipeConfig, who: str, role: str = "engineer") -> Future:
        """Replace (or add) recipe ``name``; applies from the next part. Raises RecipeError when the recipe
        does not fit its model (unknown class) or names a model that is not loaded (use switch_model).
        The future resolves to the audit row id (None when nothing changed)."""
        detector = self._detectors.get(recipe.model)
        if detector is None:
            raise RecipeError(
                f"recipes.{name}.model: {recipe.model} is not loaded; switch models with switch_model()"
            )
        rules = RecipeRules(name, recipe, detector.info.names)  # raises RecipeError before any change
        with self._recipe_lock:
            old = self.config.recipes.get(name)
            if old == recipe:
                return _done(None)
            self._rules[name] = rules
            self.config = self.config.model_copy(update={"recipes": {**self.config.recipes, name: recipe}})
        self._emit("recipe", Severity.INFO, f"recipe {name} edited by {who}", recipe=name, who=who)
        self._recheck_roi()
        self._save_recipe(name)
        return self.audit(
            who, role, "recipe.edit", name, None if old is None else _recipe_json(old), _recipe_json(recipe)
        )

    def switch_model(
        self,
        recipe: str,
        model_dir: str | Path,
        who: str,
        role: str = "engineer",
        detector: Detector | None = None,
    ) -> Future:
        """Make ``recipe`` use the model release in ``model_dir`` from the next part on.

        Loads and verifies the release (seconds: call it off any UI thread) unless it is loaded already or
        ``detector`` is given; raises ModelError (bad release) or RecipeError (the recipe names a class the
        new model lacks) and then changes nothing. The previous model stays loaded until stop, since a part
        in flight may still be using it.
        """
        if recipe not in self.config.recipes:
            raise KeyError(f"unknown recipe {recipe!r}; known: {', '.join(self.config.recipes)}")
        key = str(model_dir) if detector is not None else str(Path(model_dir).resolve())
        loaded = self._detectors.get(key)
        new_det = loaded or detector or self._load_detector(key)
        old_cfg = self.config.recipes[recipe]
        new_cfg = old_cfg.model_copy(update={"model": key})
        try:
            RecipeRules(recipe, new_cfg, new_det.info.names)  # the recipe must fit the new model alone
        except RecipeError:
            if loaded is None and detector is None:
                new_det.close()
            raise
        old_det = self._detectors[old_cfg.model]
        # The detect stage reads the rules, then the model, without a lock: rules built over both models'
        # classes decide correctly whichever of the two a part in the switch-over gets.
        names = tuple(dict.fromkeys((*new_det.info.names, *old_det.info.names)))
        rules = RecipeRules(recipe, new_cfg, names)
        with self._recipe_lock:
            self._detectors[key] = new_det
            self._rules[recipe] = rules
            self.config = self.config.model_copy(update={"recipes": {**self.config.recipes, recipe: new_cfg}})
        self._emit(
            "model", Severity.INFO, f"recipe {recipe}: model {old_det.info.model_id} -> "
            f"{new_det.info.model_id} by {who}", recipe=recipe, who=who,
        )  # fmt: skip
        self._recheck_roi()
        self._save_recipe(recipe)
        return self.audit(
            who, role, "model.switch", recipe,
            {"model": old_cfg.model, "model_id": old_det.info.model_id},
            {"model": key, "model_id": new_det.info.model_id},
        )  # fmt: skip

    # ------------------------------------------------------------------ saving recipes
    def _save_recipe(self, name: str) -> None:
        """Write the recipe as it now is back to the station's TOML file, off the caller's thread (the
        UI's), and say how it went as a "recipe" event with ``saved`` = the file or ``save_error``.
        Without a file (the demo, configs built in code) edits last until the station stops."""
        path = self.config.source_file
        if path is None:
            return

        def work() -> None:
            with self._save_lock:  # one writer; each writes the recipe as it is then, so the last edit wins
                recipe = self.config.recipes.get(name)
                if recipe is None:
                    return
                try:
                    save_recipe(path, name, recipe)
                except (OSError, ConfigError) as exc:
                    self._emit(
                        "recipe", Severity.WARNING, f"recipe {name} is applied but was NOT saved to {path}: "
                        f"{exc}", recipe=name, save_error=str(exc),
                    )  # fmt: skip
                else:
                    self._emit("recipe", Severity.INFO, f"recipe {name} saved to {path}", recipe=name,
                               saved=str(path))  # fmt: skip

        threading.Thread(target=work, name="recipe-save", daemon=True).start()

    # ------------------------------------------------------------------ helpers
    def _load_detector(self, model_dir: str) -> Detector:
        from inspect_app.builders import load_station_detector

        return load_station_detector(model_dir, self.config, under_load=self.state.operational)

    def _known_classes(self) -> list[str]:
        return sorted({n for d in list(self._detectors.values()) for n in d.info.names})

    def _writer(self) -> Any:
        store = self._store
        if store is None or not hasattr(store, "record_review"):
            raise StoreClosed("the station has no results store that records reviews (not started?)")
        return store


def _text(value: object) -> str | None:
    if value is None or isinstance(value, str):
        return value
    return json.dumps(value, sort_keys=True, default=str)


def _recipe_json(recipe: RecipeConfig) -> dict[str, Any]:
    return recipe.model_dump(mode="json", exclude_defaults=False)


def _done(value: object) -> Future:
    f: Future = Future()
    f.set_result(value)
    return f
