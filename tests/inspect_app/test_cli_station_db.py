"""Commands that name only a state dir (results, shadow report, dataset from-reviews) read the results DB of
the station running there, its ``[store] db``, not always results.db; with no station, results.db."""

from __future__ import annotations

import json
import socket
import threading
from pathlib import Path

import pytest

from inspect_app.cli import main
from inspect_app.config import load_config
from inspect_app.control import SOCKET_NAME, ControlServer
from inspect_app.station import Station
from inspect_app.testing.fakes import ScriptedDetector, ScriptedSource, part_image


def test_state_dir_commands_read_the_running_stations_db(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    toml = tmp_path / "station.toml"
    toml.write_text(
        'state_dir = "state"\nactive_recipe = "r"\n[trigger]\nmode = "software"\n'
        '[store]\ndb = "line.db"\ncommit_interval_ms = 5\n[recipes.r]\nmodel = "fake"\n'
    )
    cfg = load_config(toml)
    model = cfg.recipes["r"].model  # resolved against the config's folder
    st = Station(
        cfg, source=ScriptedSource([part_image(True)], loop=True), detectors={model: ScriptedDetector()}
    )
    st.start()
    control = ControlServer(st, cfg.state_dir / SOCKET_NAME)
    control.start()
    try:
        st.trigger("p1")
        assert st.wait_for_results(1, 30)
        # the file edited after the start: the station still writes line.db, and that is what is read
        toml.write_text(toml.read_text().replace('db = "line.db"', 'db = "other.db"'))
        assert main(["results", "summary", "--state-dir", str(cfg.state_dir), "--json"]) == 0
        summary = json.loads(capsys.readouterr().out)
        assert (summary["total"], summary["fail"]) == (1, 1)
        assert main(["shadow", "report", "--state-dir", str(cfg.state_dir)]) == 0
        assert f"{cfg.state_dir / 'line.db'}: no shadow results" in capsys.readouterr().out
    finally:
        control.stop()
        st.stop()
    # no station running: results.db, which this state dir does not have
    assert main(["results", "summary", "--state-dir", str(cfg.state_dir)]) == 2
    assert "results.db" in capsys.readouterr().err
    # something on the socket that does not speak the protocol: the same, not a traceback
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as server:
        server.bind(str(cfg.state_dir / SOCKET_NAME))
        server.listen(1)

        def garble() -> None:
            conn, _ = server.accept()
            with conn:
                conn.recv(65536)
                conn.sendall(b"not json\n")

        t = threading.Thread(target=garble, daemon=True)
        t.start()
        assert main(["results", "summary", "--state-dir", str(cfg.state_dir)]) == 2
        t.join(10)
    assert "results.db" in capsys.readouterr().err
