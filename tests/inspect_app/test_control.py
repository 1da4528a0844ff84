"""The local control socket: software triggers and recipe switches from another process."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from inspect_app.config import parse_config
from inspect_app.control import SOCKET_NAME, ControlServer, send
from inspect_app.station import Station
from inspect_app.testing.fakes import ScriptedDetector, ScriptedSource, part_image


def test_trigger_recipe_status_over_socket(tmp_path: Path) -> None:
    state = tmp_path / "s"
    cfg = parse_config(
        {
            "state_dir": str(state),
            "trigger": {"mode": "software"},
            "recipes": {
                "a": {"model": "fake"},
                "b": {"model": "fake", "classes": {"short": {"ignore": True}}},
            },
            "active_recipe": "a",
        }
    )
    st = Station(
        cfg, source=ScriptedSource([part_image(True)], loop=True), detectors={"fake": ScriptedDetector()}
    )
    st.start()
    server = ControlServer(st, state / SOCKET_NAME)
    server.start()
    try:
        assert send(state, {"cmd": "trigger", "part_id": "X1"})["part_id"] == "X1"
        assert st.wait_for_results(1, 5)
        assert send(state, {"cmd": "recipe", "name": "b", "who": "qe"}) == {"ok": True, "recipe": "b"}
        bad = send(state, {"cmd": "recipe", "name": "zzz"})
        assert bad["ok"] is False and "unknown recipe" in bad["error"]
        # the CLI, from another process, as an operator would use it
        out = subprocess.run(
            [
                sys.executable,
                "-m",
                "inspect_app.cli",
                "trigger",
                "--part-id",
                "X2",
                "--state-dir",
                str(state),
            ],
            capture_output=True,
            text=True,
            check=True,
        )
        assert json.loads(out.stdout)["part_id"] == "X2"
        assert st.wait_for_results(2, 5)
        status = send(state, {"cmd": "status"})
        assert status["recipe"] == "b" and status["counters"]["fail"] == 1 and status["counters"]["pass"] == 1
        assert send(state, {"cmd": "fly"})["ok"] is False
    finally:
        server.stop()
        st.stop()
    assert send(state, {"cmd": "status"})["error"].startswith("no station running")
