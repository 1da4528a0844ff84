"""Gated promotion: gather the evidence on a candidate release, run the gate, audit the outcome.

Used by ``inspect-app models promote`` (the default pointer of the models folder) and by the window's model
switch (``promote_on_station``: a running station's recipe). The evidence (``promotion_gate.GateEvidence``):

* the reviewed parts, replayed through the candidate with the part's own recipe (``inspect_app.replay``);
* agreement with the live verdicts: from ``shadow_results`` when the candidate ran as the shadow model,
  else from a replay of the last ``promotion.agreement_parts`` parts;
* the test metrics of both manifests.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import Future
from pathlib import Path
from typing import Any

from inspect_app.config import StationConfig
from inspect_app.model_release import load_release
from inspect_app.promotion_gate import GateEvidence, GateResult, ReviewedOutcome, evaluate_gate
from inspect_app.protocols import ModelInfo
from inspect_app.releases import ReleaseRegistry
from inspect_app.store.admin_rows import append_audit
from inspect_app.store.schema import AuditEntry

log = logging.getLogger(__name__)

AGREEMENT_PARTS = 2000  # the most recent parts replayed for agreement when there are no shadow results

Progress = Callable[[str, int, int], None]


class GateRefused(Exception):
    """The candidate did not pass the gate; ``result`` says which checks failed."""

    def __init__(self, result: GateResult) -> None:
        failed = "; ".join(f"{c.name}: {c.detail}" for c in result.failed())
        super().__init__(f"{result.candidate} refused by the promotion gate: {failed}")
        self.result = result


def gather_evidence(
    config: StationConfig,
    db_path: str | Path,
    candidate_dir: str | Path,
    live_dir: str | Path | None,
    *,
    recent: int = AGREEMENT_PARTS,
    progress: Progress | None = None,
    model_infos: Mapping[str, ModelInfo] | None = None,
    recipes: Sequence[str] | None = None,
) -> GateEvidence:
    """``model_infos``: the running station's models by directory (what a replay needs to know of the live
    models without loading them again). ``recipes``: those that would run the candidate (default: every
    recipe on ``live_dir``); each must fit the candidate's classes (RecipeError otherwise)."""
    candidate = load_release(candidate_dir, verify=[])
    live = load_release(live_dir, verify=[]) if live_dir is not None and Path(live_dir).is_dir() else None
    _check_recipes_fit(config, candidate.names, live_dir, recipes)
    reviewed: tuple[ReviewedOutcome, ...] = ()
    parts = agreeing = 0
    source = "none"
    db_path = Path(db_path)
    if db_path.is_file():
        from inspect_app.replay import ReplayFilters, run_replay
        from inspect_app.store.read import ResultsReader
        from inspect_app.store.shadow_read import shadow_agreement

        def step(name: str) -> Callable[[int, int], None] | None:
            return None if progress is None else (lambda done, total: progress(name, done, total))

        report = run_replay(
            db_path, candidate_release=candidate_dir, filters=ReplayFilters(reviewed=True), config=config,
            progress=step("reviewed parts"), model_infos=model_infos,
        )  # fmt: skip
        reviewed = tuple(
            ReviewedOutcome(p.inspection_id, p.truth, p.stored_verdict, p.replayed_verdict, p.why_not)
            for p in report.parts if p.truth is not None
        )  # fmt: skip
        with ResultsReader(db_path) as reader:
            # this build's rows only: an earlier build under the same NAME/VERSION is not evidence
            builds = {f.sha256 for f in candidate.files.values()}
            shadow = shadow_agreement(reader, candidate.model_id, sha256s=builds)
        if shadow.parts:
            parts, agreeing, source = shadow.parts, shadow.agreeing, "shadow"
        else:
            recent_report = run_replay(
                db_path, candidate_release=candidate_dir, filters=ReplayFilters(last=recent), config=config,
                progress=step("recent parts"), model_infos=model_infos,
            )  # fmt: skip
            parts = recent_report.replayed
            agreeing = sum(1 for p in recent_report.parts if p.replayed and not p.changed)
            source = "replay"
    return GateEvidence(
        candidate.model_id, live.model_id if live is not None else None, reviewed, parts, agreeing, source,
        dict((live.metrics.get("test") or {}) if live is not None else {}),
        dict(candidate.metrics.get("test") or {}),
    )  # fmt: skip


def _check_recipes_fit(
    config: StationConfig, names: Sequence[str], live_dir: str | Path | None, recipes: Sequence[str] | None
) -> None:
    """Up front, history or not: a station with no results yet has nothing to replay, and a recipe naming a
    class the candidate lacks would otherwise be found only when the station next starts (and refuses to)."""
    from inspect_app.rules import RecipeRules

    if recipes is None:
        live = Path(live_dir).resolve() if live_dir is not None else None
        on_live = [n for n, r in config.recipes.items() if Path(r.model).resolve() == live]
        recipes = on_live if live is not None else []
    for name in recipes:
        RecipeRules(name, config.recipes[name], names)


def gate_release(
    config: StationConfig, registry: ReleaseRegistry, ref: str, db_path: str | Path,
    progress: Progress | None = None,
) -> GateResult:  # fmt: skip
    """The gate for making ``ref`` the models folder's default, against the current default."""
    live = registry.default_ref()
    live_dir = registry.path(live) if live is not None else None
    evidence = gather_evidence(config, db_path, registry.path(ref), live_dir, progress=progress)
    return evaluate_gate(evidence, config.promotion)


def audit_promotion(
    db_path: str | Path, who: str, action: str, old: str | None, new: str, result: GateResult | None,
    reason: str = "", forced: bool = False,
) -> int:  # fmt: skip
    """An audit row in results.db from outside the station (the CLI)."""
    return append_audit(db_path, AuditEntry(who, "engineer", action, "default-model", _text({"release": old}),
                                            _text(_new(new, result, reason, forced))))  # fmt: skip


def promote_on_station(
    station: Any, recipe: str, model_dir: str | Path, who: str, role: str = "engineer",
    force_reason: str | None = None,
) -> tuple[GateResult, Future]:  # fmt: skip
    """The window's model switch, gated: run the gate for ``model_dir`` against the recipe's live model on
    the station's own results, then switch (``Station.switch_model``). Raises GateRefused (audited) when the
    candidate fails and no ``force_reason`` is given. Takes seconds to minutes: never on a UI thread."""
    cfg: StationConfig = station.config
    live_dir = cfg.recipes[recipe].model
    db = Path(cfg.state_dir) / cfg.store.db
    infos = {key: det.info for key, det in station.models().items()}
    evidence = gather_evidence(cfg, db, model_dir, live_dir, model_infos=infos, recipes=[recipe])
    result = evaluate_gate(evidence, cfg.promotion)
    forced = not result.passed and bool(force_reason and force_reason.strip())
    if not result.passed and not forced:
        station.audit(who, role, "model.promote.refused", recipe, {"model": live_dir},
                      _new(str(model_dir), result, "", False))  # fmt: skip
        raise GateRefused(result)
    future = station.switch_model(recipe, model_dir, who, role)
    station.audit(who, role, "model.promote", recipe, {"model": live_dir},
                  _new(str(model_dir), result, force_reason or "", forced))  # fmt: skip
    return result, future


def _new(new: str, result: GateResult | None, reason: str, forced: bool) -> dict[str, Any]:
    out: dict[str, Any] = {"release": new}
    if result is not None:
        out["gate"] = result.as_dict()
    if forced:
        out["forced"] = True
    if reason:
        out["reason"] = reason
    return out


def _text(value: object) -> str:
    return json.dumps(value, sort_keys=True, default=str)
