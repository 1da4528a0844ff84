"""`inspect-app simulate-plc` against a demo-like station: the demo's config as `inspect-app demo --trigger
external` runs it, with the scripted camera and model instead of the bundled ones."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest

from inspect_app.cli import main
from inspect_app.demo import demo_config
from inspect_app.station import Station
from inspect_app.testing.fakes import ScriptedDetector, ScriptedSource, part_image
from plc.link import make_link
from plc.simulator import Connection, Faults, PlcSimulator
from plc.testing import USERS, Running, free_port


@pytest.fixture
def demo_like(tmp_path: Path) -> Running:
    model_dir = tmp_path / "models" / "demo" / "1.0.0"
    cfg = demo_config(state_dir=tmp_path / "var", model_dir=model_dir)
    assert cfg.opcua.mode == "server" and cfg.opcua.security == ["None"]  # what the demo ships
    # the demo's server on a free port, with a short Ack timeout so the late-Ack fault is quick to provoke
    opcua = cfg.opcua.model_copy(
        update={
            "endpoint": f"opc.tcp://127.0.0.1:{free_port()}/",
            "handshake": cfg.opcua.handshake.model_copy(
                update={"ack_timeout_s": 0.3, "heartbeat_period_s": 0.05}
            ),
        }
    )
    # as `inspect-app demo --trigger external`: the PLC triggers (a free-running station only takes
    # triggers once its free run ends, see the report to the lead)
    cfg = cfg.model_copy(
        update={"opcua": opcua, "trigger": cfg.trigger.model_copy(update={"mode": "external"})}
    )
    det = ScriptedDetector(model_id="demo/1.0.0")
    script = [part_image(i % 3 == 0) for i in range(6)]
    st = Station(cfg, source=ScriptedSource(script, loop=True), detectors={str(model_dir.resolve()): det})
    st.start()
    link = make_link(cfg)
    assert link is not None
    link.start(st)
    status = link.status()
    assert status["security"] == "None (unsecured, loopback only)"
    assert status["secured"] is False and status["security_mode"] == "None"
    yield Running(st, link, det, cfg)
    link.stop()
    st.stop()


def test_simulator_with_fault_injection_reports_conformance(demo_like: Running) -> None:
    sim = PlcSimulator(Connection(demo_like.url), db=demo_like.db, result_timeout_s=10)
    faults = Faults(late_ack=5, double_trigger=4, link_cut=6, late_ack_s=1.0)
    report = asyncio.run(sim.run(parts=12, rate_hz=100, faults=faults))
    text = report.render()
    assert report.passed, text
    assert report.parts_sent == 12 and report.results == 12 and len(report.latencies_ms) == 12
    names = [c.name for c in report.checks]
    assert sum("double trigger" in n and "missed trigger" in n for n in names) == 3  # parts 4, 8, 12
    assert sum("late Ack" in n and "fault 2" in n for n in names) == 2  # parts 5, 10
    assert "every trigger answered" in names and "Heartbeat ticks while healthy" in names
    assert "CONFORMANT" in text and "p99" in text
    # every handshake part is in the DB, triggered externally; the 3 missed ones as NOT_INSPECTED rows
    import sqlite3

    rows = (
        sqlite3.connect(demo_like.db)
        .execute(
            "select coalesce(error_code, verdict), count(*) from inspections"
            " where part_id like 'SIM-%' and trigger_source = 'external' group by 1"
        )
        .fetchall()
    )
    by_code = dict(rows)
    assert by_code.pop("MISSED_TRIGGER") == 3
    assert sum(by_code.values()) == 12
    assert demo_like.link.status()["missed_triggers"] == 3


def test_simulate_plc_command_exit_status(demo_like: Running, capsys: pytest.CaptureFixture[str]) -> None:
    ok = main(
        ["simulate-plc", "--url", demo_like.url, "--parts", "5", "--rate", "100", "--db", str(demo_like.db)]
    )
    out = capsys.readouterr().out
    assert ok == 0, out
    assert "parts triggered: 5, results received: 5" in out and out.rstrip().endswith("CONFORMANT")
    # an impossible latency budget must make the report fail, and the command with it
    bad = main(["simulate-plc", "--url", demo_like.url, "--parts", "3", "--budget-ms", "0.0001"])
    out = capsys.readouterr().out
    assert bad == 1 and "NOT CONFORMANT" in out


def test_simulate_plc_command_without_a_station(capsys: pytest.CaptureFixture[str]) -> None:
    rc = main(["simulate-plc", "--url", f"opc.tcp://127.0.0.1:{free_port()}/", "--parts", "1"])
    assert rc == 2
    assert "cannot reach the station" in capsys.readouterr().err


def test_simulate_plc_announces_the_application_uri_of_its_certificate(
    secured: Running, pki: Any, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """Issue 10, point 11: a secured station refuses a client whose announced URI is not its certificate's;
    the simulator announces the URI of the certificate it is given (here the test client's)."""
    monkeypatch.setenv("INSPECT_APP_OPCUA_PASSWORD", USERS["otto"][1])
    security = f"Basic256Sha256,SignAndEncrypt,{pki.client2_cert},{pki.client2_key},{pki.server_cert}"
    argv = ["simulate-plc", "--url", secured.url, "--user", "otto", "--security", security]
    rc = main([*argv, "--parts", "2", "--rate", "50"])
    out = capsys.readouterr()
    assert rc == 0, out.out + out.err
    assert "parts triggered: 2, results received: 2" in out.out
