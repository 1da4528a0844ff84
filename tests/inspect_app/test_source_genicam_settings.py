"""Per-recipe camera settings: what is set at a changeover, and what goes back to its value."""

from __future__ import annotations

import pytest

from inspect_app.config_genicam import CameraSettings
from inspect_app.sources.genicam_settings import AppliedSettings, effective


class _Camera:
    """A feature table with a camera's habit of reporting what it really set (here: whole microseconds)."""

    def __init__(self) -> None:
        self.values: dict[str, str] = {"ExposureTime": "10000", "Gain": "0", "BalanceWhiteAuto": "Continuous"}
        self.writes: list[str] = []

    def set(self, name: str, value: object) -> tuple[str | None, str | None]:
        old = self.values.get(name)
        self.values[name] = str(int(value)) if isinstance(value, float) else str(value)
        self.writes.append(name)
        return old, self.values[name]


def test_changeover_sets_what_differs_and_restores_what_the_last_recipe_set() -> None:
    base = CameraSettings(gain=1.0)
    a = CameraSettings(exposure_us=5000.4, features={"BalanceWhiteAuto": "Off"})
    b = CameraSettings(exposure_us=8000)
    cam = _Camera()
    applied = AppliedSettings(base)  # configure() set the base gain already
    changes = applied.apply("a", effective(base, a), cam.set)
    assert [(c.feature, c.old, c.new) for c in changes] == [
        ("ExposureTime", "10000", "5000"), ("BalanceWhiteAuto", "Continuous", "Off"),
    ]  # fmt: skip
    assert not applied.needs("a", effective(base, a))
    changes = applied.apply("b", effective(base, b), cam.set)
    assert {(c.feature, c.new) for c in changes} == {
        ("BalanceWhiteAuto", "Continuous"), ("ExposureTime", "8000"),
    }  # fmt: skip
    assert "Gain" not in cam.writes  # the same in both recipes: not written again
    changes = applied.apply(None, effective(base, None), cam.set)
    assert [(c.feature, c.new) for c in changes] == [("ExposureTime", "10000")]


def test_a_refused_setting_leaves_the_rest_known() -> None:
    cam = _Camera()

    def refuse_gain(name: str, value: object) -> tuple[str | None, str | None]:
        if name == "Gain":
            raise RuntimeError("Gain = 99: out of range")
        return cam.set(name, value)

    applied = AppliedSettings(CameraSettings())
    wanted = effective(CameraSettings(), CameraSettings(exposure_us=100, gain=99))
    with pytest.raises(RuntimeError, match="Gain"):
        applied.apply("a", wanted, refuse_gain)
    assert applied.values == {"ExposureTime": 100} and applied.needs("a", wanted)
