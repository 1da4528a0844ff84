"""Which camera features a recipe needs, and what changes on the camera when the recipe changes.

A recipe's camera settings lie over the ``[source]`` ones: recipe B's effective settings are the source's,
then B's own. A feature that recipe A set and B does not name goes back to the value it had before any
recipe touched it (remembered at its first change on this connection), so a changeover never leaves A's
exposure on B's parts. Aravis is reached only through the ``set_feature`` callable, so this is tested
without a camera.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from inspect_app.config_genicam import CameraSettings, FeatureValue

SetFeature = Callable[[str, FeatureValue], tuple[str | None, str | None]]  # -> (old, new) as the camera says


@dataclass(frozen=True, slots=True)
class SettingChange:
    feature: str
    old: str | None
    new: str | None


def effective(base: CameraSettings, recipe: CameraSettings | None) -> dict[str, FeatureValue]:
    out = base.as_features()
    if recipe is not None:
        out.update(recipe.as_features())
    return out


class AppliedSettings:
    """What this connection has set on the camera; one per connection (a reconnect starts from the
    ``[source]`` settings that ``configure`` applied)."""

    def __init__(self, base: CameraSettings) -> None:
        self.values: dict[str, FeatureValue] = base.as_features()
        self.recipe: str | None = None
        self._base = dict(self.values)
        self._originals: dict[str, str | None] = {}

    def needs(self, recipe: str | None, wanted: dict[str, FeatureValue]) -> bool:
        return recipe != self.recipe or wanted != self.values

    def apply(
        self, recipe: str | None, wanted: dict[str, FeatureValue], set_feature: SetFeature
    ) -> list[SettingChange]:
        """Set what differs, in the recipe's order; restore what the previous recipe set and this one does
        not. Raises what ``set_feature`` raises, after recording what was already changed."""
        changes: list[SettingChange] = []
        try:
            for name in [n for n in self.values if n not in wanted]:
                original = self._originals.pop(name, None)
                if original is not None:
                    old, new = set_feature(name, _typed(original, self.values[name]))
                    changes.append(SettingChange(name, old, new))
                del self.values[name]
            for name, value in wanted.items():
                if self.values.get(name) == value and name in self.values:
                    continue
                old, new = set_feature(name, value)
                if name not in self._base:
                    self._originals.setdefault(name, old)
                self.values[name] = value
                changes.append(SettingChange(name, old, new))
        finally:
            self.recipe = recipe
        return changes


def _typed(text: str, like: FeatureValue) -> FeatureValue:
    """A value read back as text, in the type the feature was set with."""
    if isinstance(like, bool):
        return text.lower() in ("true", "1")
    if isinstance(like, int):
        try:
            return int(text)
        except ValueError:
            return float(text)
    if isinstance(like, float):
        return float(text)
    return text
