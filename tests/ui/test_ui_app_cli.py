"""run_gui end to end, the ui commands, the engineer password hash and the translation files."""

from __future__ import annotations

import io
import shutil
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

import pytest

from inspect_app.cli import build_parser, main
from inspect_app.config import ConfigError
from inspect_app.passwords import hash_password, verify_password
from inspect_app.station import Station
from inspect_app.testing.fakes import ScriptedDetector, ScriptedSource
from ui.app import pick_language, run_gui
from ui.i18n import I18N_DIR

TS = I18N_DIR / "inspect_ui_zh_CN.ts"
QM = I18N_DIR / "inspect_ui_zh_CN.qm"


def test_run_gui_runs_max_parts_then_stops_and_returns(
    qapp: Any, make_config: Any, part: Any, rows: Any
) -> None:
    cfg = make_config()
    source = ScriptedSource([part(True), part(False)], loop=True)

    def factory() -> Station:
        return Station(cfg, source=source, detectors={"fake": ScriptedDetector()}, max_parts=6)

    assert run_gui(cfg, max_parts=6, station_factory=factory) == 0
    saved = rows(cfg, "select verdict from inspections order by id")
    assert [r["verdict"] for r in saved] == ["FAIL", "PASS"] * 3
    assert not (Path(cfg.state_dir) / "station.sock").exists()  # the control socket was closed


def test_language_comes_from_option_env_then_config(make_config: Any, monkeypatch: Any) -> None:
    cfg = make_config(ui={"language": "zh_CN"})
    monkeypatch.delenv("INSPECT_APP_LANG", raising=False)
    assert pick_language(cfg) == "zh_CN"
    monkeypatch.setenv("INSPECT_APP_LANG", "en")
    assert pick_language(cfg) == "en"
    assert pick_language(cfg, "zh_CN") == "zh_CN"


def test_password_hash_verifies_only_the_password() -> None:
    h = hash_password("open sesame")
    assert h.startswith("scrypt$") and verify_password("open sesame", h)
    assert not verify_password("open sesame!", h)
    assert hash_password("open sesame") != h  # salted
    for bad in (None, "", "scrypt$1$2", "md5$x$y$z$a$b", h[:-4] + "AAAA"):
        assert not verify_password("open sesame", bad)
    with pytest.raises(ValueError):
        hash_password("")


def test_hash_password_command_output_goes_into_the_config(
    monkeypatch: Any, capsys: Any, make_config: Any
) -> None:
    monkeypatch.setattr(sys, "stdin", io.StringIO("line-2 secret\n"))
    assert main(["ui", "hash-password", "--password-stdin"]) == 0
    line = next(ln for ln in capsys.readouterr().out.splitlines() if ln.startswith("engineer_password_hash"))
    hashed = line.split('"')[1]
    assert verify_password("line-2 secret", hashed)
    assert make_config(ui={"engineer_password_hash": hashed}).ui.engineer_password_hash == hashed
    with pytest.raises(ConfigError, match="hash-password"):
        make_config(ui={"engineer_password_hash": "plain-text-password"})


def test_gui_and_dataset_commands_are_registered() -> None:
    args = build_parser().parse_args(["gui", "--config", "station.toml", "--lang", "zh_CN"])
    assert args.config == Path("station.toml") and args.lang == "zh_CN"
    args = build_parser().parse_args(["dataset", "from-reviews", "--out", "ds", "--since", "7d"])
    assert args.out == Path("ds") and args.since is not None


def test_every_ui_string_has_a_chinese_translation(tmp_path: Path) -> None:
    """pylupdate6 over ui/ finds no string the .ts lacks, and none is left unfinished."""
    ts = tmp_path / TS.name
    shutil.copy(TS, ts)
    ui_files = sorted(str(p) for p in I18N_DIR.parent.glob("*.py"))
    pylupdate = [sys.executable, "-m", "PyQt6.lupdate.pylupdate"]
    subprocess.run([*pylupdate, *ui_files, "--no-summary", "--ts", str(ts)], check=True)
    untranslated = [
        (ctx.findtext("name"), m.findtext("source"))
        for ctx in ET.parse(ts).getroot().iter("context")
        for m in ctx.iter("message")
        if m.find("translation").get("type") in ("unfinished",)  # obsolete ("vanished") is fine
    ]
    assert untranslated == []


def test_committed_qm_is_compiled_from_the_ts(tmp_path: Path) -> None:
    lrelease = shutil.which("lrelease") or "/usr/lib/qt6/bin/lrelease"
    if not Path(lrelease).exists():
        pytest.skip("lrelease not installed (Debian: qt6-l10n-tools)")
    out = tmp_path / "fresh.qm"
    subprocess.run([lrelease, "-silent", str(TS), "-qm", str(out)], check=True)
    assert out.read_bytes() == QM.read_bytes(), "run lrelease ui/i18n/inspect_ui_zh_CN.ts and commit the .qm"
