"""Where Aravis is missing, a genicam source is refused at start in one line that says what to install, and
every other source kind is unaffected. Runs everywhere: with Aravis installed, PyGObject is hidden."""

from __future__ import annotations

import sys

import pytest

from inspect_app.config import SyntheticSourceConfig
from inspect_app.config_genicam import GenicamSourceConfig
from inspect_app.sources import make_source
from inspect_app.station import StartupError


def test_without_aravis_a_genicam_source_is_refused_at_start_in_one_line(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setitem(sys.modules, "gi", None)  # as on a machine without PyGObject: ``import gi`` fails
    with pytest.raises(StartupError) as err:
        make_source(GenicamSourceConfig(camera="GV01"))
    text = str(err.value)
    assert "\n" not in text and text.startswith("source.kind = genicam: PyGObject (gi) is not installed")
    assert "apt-get install gir1.2-aravis-0.8" in text and "'.[genicam]'" in text
    assert make_source(SyntheticSourceConfig()).name  # the other kinds do not need it
