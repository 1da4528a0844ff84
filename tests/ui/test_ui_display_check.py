"""Without a display, or without the system libraries Qt's window needs, the command line says in one line
what is missing: ``run``/``demo`` go on headless, ``gui`` stops with exit status 2. Never the abort (exit
status 134) with Qt's misleading "xcb-cursor0 is needed" text."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from ui.display_check import debian_package, explain, window_problem

NO_SUCH_DISPLAY = ":987"  # no X server listens there


def _env(**over: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("QT_QPA_PLATFORM", "WAYLAND_DISPLAY", "DISPLAY")}
    env.update(over)
    return env


def test_debian_package_names_follow_the_soname() -> None:
    assert debian_package("libxcb-icccm.so.4") == "libxcb-icccm4"
    assert debian_package("libxkbcommon-x11.so.0") == "libxkbcommon-x11-0"
    assert debian_package("libEGL.so.1") == "libegl1"
    assert debian_package("libdbus-1.so.3") == "libdbus-1-3"
    assert debian_package("libglib-2.0.so.0") == "libglib2.0-0"  # one that does not follow the rule


def test_the_explanation_is_one_line_naming_what_is_missing() -> None:
    qt_said = ("qt.qpa.plugin: From 6.5.0, xcb-cursor0 or libxcb-cursor0 is needed to load the Qt xcb "
               "platform plugin.\nqt.qpa.plugin: Could not load the Qt platform plugin \"xcb\"\n")
    line = explain(qt_said, ["libxcb-icccm.so.4", "libxcb-keysyms.so.1"])
    assert line == ("system libraries missing for Qt: libxcb-icccm.so.4, libxcb-keysyms.so.1 "
                    "(Debian/Ubuntu: sudo apt install libxcb-icccm4 libxcb-keysyms1)")
    assert explain("qt.qpa.xcb: could not connect to display :5\n", []).startswith(
        "cannot connect to the X display :5")
    assert "\n" not in explain("ImportError: libEGL.so.1: cannot open shared object file\n", [])


def test_no_display_at_all_is_said_without_starting_qt(monkeypatch: object) -> None:
    for var in ("DISPLAY", "WAYLAND_DISPLAY", "QT_QPA_PLATFORM"):
        monkeypatch.delenv(var, raising=False)  # type: ignore[attr-defined]
    assert window_problem() == "no display (DISPLAY and WAYLAND_DISPLAY are unset)"


def test_a_display_that_cannot_be_used_is_found_in_a_child_process(monkeypatch: object) -> None:
    monkeypatch.delenv("QT_QPA_PLATFORM", raising=False)  # type: ignore[attr-defined]
    monkeypatch.delenv("WAYLAND_DISPLAY", raising=False)  # type: ignore[attr-defined]
    monkeypatch.setenv("DISPLAY", NO_SUCH_DISPLAY)  # type: ignore[attr-defined]
    problem = window_problem()  # this process is still alive: Qt aborted in the child, if anywhere
    assert problem is not None and "\n" not in problem
    assert "missing" in problem or NO_SUCH_DISPLAY in problem, problem


def _config(tmp_path: Path, model: Path) -> Path:
    cfg = tmp_path / "station.toml"
    cfg.write_text(f"""
state_dir = "state"
active_recipe = "r"
[source]
kind = "synthetic"
width = 160
height = 160
[trigger]
mode = "free_run"
rate_hz = 50
[detector]
backend = "onnxruntime"
threads = 1
[recipes.r]
model = "{model}"
""")
    return cfg


def test_run_falls_back_to_headless_and_gui_refuses_in_one_line(tmp_path: Path, tiny_release: Path) -> None:
    cfg = _config(tmp_path, tiny_release)
    cli = [sys.executable, "-m", "inspect_app.cli"]
    env = _env(DISPLAY=NO_SUCH_DISPLAY)
    args = ["--config", str(cfg), "--max-parts", "3"]
    kw = {"env": env, "capture_output": True, "text": True, "timeout": 180, "check": False}
    run = subprocess.run([*cli, "run", *args], **kw)  # type: ignore[call-overload]
    assert run.returncode == 0, run.stderr[-2000:]
    said = [ln for ln in run.stderr.splitlines() if ln.startswith("no operator window: ")]
    assert len(said) == 1 and said[0].endswith("; running headless")
    assert "[final] total" in run.stdout
    gui = subprocess.run([*cli, "gui", *args], **kw)  # type: ignore[call-overload]
    assert gui.returncode == 2
    last = gui.stderr.strip().splitlines()[-1]
    assert last.startswith("inspect-app gui: cannot open the operator window: ")
    assert "Traceback" not in gui.stderr and "Aborted" not in gui.stderr
