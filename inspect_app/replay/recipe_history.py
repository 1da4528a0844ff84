"""Which recipe judged a stored part, from the audited recipe edits (``recipe.edit`` rows of results.db).

A part's stored detections are those its recipe asked the detector for (its lowest ``min_conf`` and up), so
a replay from stored detections is exact only for a candidate that asks for no less than the recipe that
judged the part: not necessarily today's. An edit applies from the next part the detect stage begins, so a
part taken up to ``window_s`` before an edit (the stall timeout: no part stays in flight longer) may have
been judged by either version; and a station restarted with a hand-edited file leaves no audit row, so
today's recipe is always counted in. The replay then takes the highest floor of all of them: never a
detection assumed stored that was not.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass, field

from pydantic import ValidationError

from inspect_app.config import RecipeConfig
from inspect_app.store.read import AuditRecord

ACTION = "recipe.edit"


@dataclass(frozen=True, slots=True)
class _Edit:
    epoch: float
    old: RecipeConfig | None
    new: RecipeConfig | None


@dataclass
class RecipeHistory:
    window_s: float = 10.0
    _edits: dict[str, list[_Edit]] = field(default_factory=dict)

    @classmethod
    def from_audit(cls, rows: Iterable[AuditRecord], window_s: float) -> RecipeHistory:
        h = cls(window_s)
        for r in rows:
            if r.action == ACTION:
                h._edits.setdefault(r.target, []).append(_Edit(r.epoch, _recipe(r.old), _recipe(r.new)))
        for edits in h._edits.values():
            edits.sort(key=lambda e: e.epoch)
        return h

    def judged_with(self, name: str, epoch: float, live: RecipeConfig) -> list[RecipeConfig]:
        """The recipes that may have judged a part of recipe ``name`` taken at ``epoch`` (``live`` always
        among them)."""
        out = [live]
        edits = self._edits.get(name, [])
        if not edits:
            return out
        before = [e for e in edits if e.epoch <= epoch]
        current = before[-1].new if before else edits[0].old  # in force when the part was taken
        out.append(current)  # type: ignore[arg-type]
        out += [e.old for e in edits if epoch < e.epoch <= epoch + self.window_s]  # the part may be older
        out += [e.new for e in edits if epoch < e.epoch <= epoch + self.window_s]  # ... or judged after
        return [r for r in out if r is not None]


def _recipe(text: str | None) -> RecipeConfig | None:
    if not text:
        return None
    try:
        return RecipeConfig.model_validate(json.loads(text))
    except (ValueError, ValidationError):  # an audit row of another shape: ignored, today's recipe counts
        return None
