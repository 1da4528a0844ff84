"""``inspect-app cameras list``: Aravis's fake camera and its settings; the CLI's rules without Aravis."""

from __future__ import annotations

import json
import sys

import pytest

from inspect_app.cli import main
from inspect_app.testing.genicam_fakes import skip_reason


@pytest.mark.skipif(skip_reason() is not None, reason=skip_reason() or "")
def test_cameras_list_shows_model_serial_interface_and_settings(capsys: pytest.CaptureFixture) -> None:
    assert main(["cameras", "list", "--interface", "Fake"]) == 0
    out = capsys.readouterr().out
    assert "Aravis Fake  serial 1  Fake" in out and "id Fake_1" in out
    assert "pixel_format Mono8" in out and "exposure_us " in out and "trigger_mode Off" in out
    assert main(["cameras", "list", "--interface", "Fake", "--json"]) == 0
    row = json.loads(capsys.readouterr().out.splitlines()[0])
    shown = (row["device_id"], row["serial"], row["protocol"], row["pixel_format"])
    assert shown == ("Fake_1", "1", "Fake", "Mono8")


def test_cameras_without_an_action_prints_its_own_help(capsys: pytest.CaptureFixture) -> None:
    assert main(["cameras"]) == 2
    assert "usage: inspect-app cameras" in capsys.readouterr().err


def test_cameras_list_without_aravis_says_what_to_install_in_one_line(
    capsys: pytest.CaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(sys.modules, "gi", None)  # as on a machine without PyGObject
    assert main(["cameras", "list", "--interface", "Fake"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("inspect-app cameras list: PyGObject (gi) is not installed")
    assert err.count("\n") == 1
