"""The station's OPC UA server seen from node-opcua, an OPC UA stack independent of asyncua (the station's):
address space, handshake cycles, ResultReadyEvent, methods, and security, refusals and acceptances. The
one check node-opcua cannot send (a CreateSession whose certificate is not the channel's) is made with raw
asyncua service calls against the same station."""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from inspect_app.station import Station
from inspect_app.testing.fakes import ScriptedDetector, ScriptedSource, part_image
from plc.link import make_link
from plc.testing import CLIENT_URI, USERS, Running, free_port, open_server, raw_session, station_config

pytestmark = pytest.mark.usefixtures("node_opcua")


@pytest.fixture(scope="module")
def open_station(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Running]:
    """The demo's settings (security None, anonymous, loopback) on a free port."""
    cfg = station_config(tmp_path_factory.mktemp("interop-open"), open_server(free_port()))
    det = ScriptedDetector()
    st = Station(
        cfg, source=ScriptedSource([part_image(False), part_image(True)], loop=True), detectors={"fake": det}
    )
    st.start()
    link = make_link(cfg)
    assert link is not None
    link.start(st)
    yield Running(st, link, det, cfg)
    link.stop()
    st.stop()


def _secured_opts(r: Running, pki: Any, user: str | None = "otto", **over: Any) -> dict[str, Any]:
    opts = {
        "endpoint": r.url,
        "policy": "Basic256Sha256",
        "certificate": pki.client_cert,
        "privateKey": pki.client_key,
        "serverCertificate": pki.server_cert,
        "applicationUri": CLIENT_URI,
        "user": user,
        "password": USERS[user][1] if user else None,
    }
    return {**opts, **over}


def test_browse_vision_system_and_handshake_tags(open_station: Running, node_opcua: Any) -> None:
    out = node_opcua.run("browse", {"endpoint": open_station.url})
    assert out["ok"], out
    v = out["value"]
    assert v["visionSystemId"] == f"ns={v['mv']};s=VisionSystem"
    assert v["vision"] == [
        "VisionStateMachine",
        "RecipeManagement",
        "ResultManagement",
        "Handshake",
        "Counters",
        "Configuration",
    ]
    hs = v["handshake"]
    for tag in ("Trigger", "PartId", "Ack", "FaultReset", "Ready", "Busy", "ResultValid", "Pass", "Fail"):
        assert tag in hs, tag
    assert hs["Ready"]["value"] is True and hs["ResultValid"]["value"] is False
    # OPC UA built-in type ids as node-opcua decodes them: Boolean 1, Int32 6, UInt32 7, String 12
    assert (
        hs["Trigger"]["type"],
        hs["ResultCode"]["type"],
        hs["Heartbeat"]["type"],
        hs["PartId"]["type"],
    ) == (
        1,
        6,
        7,
        12,
    )
    assert {"AutomaticModeStateMachine", "CurrentState", "Reset", "Halt"} <= set(v["stateMachine"])


def test_twenty_handshake_cycles(open_station: Running, node_opcua: Any) -> None:
    out = node_opcua.run("handshake", {"endpoint": open_station.url, "parts": 20, "prefix": "NODE"})
    assert out["ok"], out
    cycles = out["value"]["cycles"]
    assert [c["ResultPartId"] for c in cycles] == [f"NODE-{i}" for i in range(20)]
    assert all(c["written"] == ["Good", "Good"] for c in cycles)
    rows = dict(
        sqlite3.connect(open_station.db)
        .execute("select cast(id as text), verdict from inspections where part_id like 'NODE-%'")
        .fetchall()
    )
    for c in cycles:  # every ResultValid pointed at a committed row with that verdict
        assert rows[c["ResultId"]] == ("PASS" if c["Pass"] else "FAIL")
        assert c["ResultCode"] == (1 if c["Pass"] else 2) and c["Pass"] != c["Fail"]
        assert c["DefectCount"] == (0 if c["Pass"] else 1)


def test_result_ready_events(open_station: Running, node_opcua: Any) -> None:
    out = node_opcua.run("events", {"endpoint": open_station.url, "parts": 3})
    assert out["ok"], out
    v = out["value"]
    assert [j["status"] for j in v["jobs"]] == ["Good"] * 3
    events = v["events"]
    assert [e["PartId"] for e in events] == ["EV-0", "EV-1", "EV-2"]
    assert all(e["EventType"] == v["eventType"] for e in events)
    assert [e["JobId"] for e in events] == [j["jobId"] for j in v["jobs"]]
    for e in events:
        assert e["ResultState"] == 1 and e["InternalRecipeId"] == "strict"
        assert e["DefectCount"] == len(e["DefectClasses"]) and e["Verdict"] in ("PASS", "FAIL")


def test_methods(open_station: Running, node_opcua: Any) -> None:
    out = node_opcua.run("methods", {"endpoint": open_station.url})
    assert out["ok"], out
    v = out["value"]
    assert v["recipes"] == ["strict", "lenient"] and v["prepared"] == "strict"
    assert v["job"]["status"] == "Good" and v["result"]["part_id"] == "NODE-JOB-1" and v["resultError"] == 0
    assert v["missing"] == ["", -1]
    assert v["tooFew"] == "BadArgumentsMissing"
    assert v["prepare"] == "Good"  # the demo's anonymous engineer
    assert open_station.station.recipe == "lenient"
    open_station.station.set_recipe("strict")


@pytest.mark.parametrize("policy", ["Basic256Sha256", "Aes256_Sha256_RsaPss"])
def test_secured_operator_is_accepted_and_may_drive_the_handshake(
    secured: Running, pki: Any, node_opcua: Any, policy: str
) -> None:
    out = node_opcua.run(
        "connect", _secured_opts(secured, pki, policy=policy, writes=[["PartId", "N-1", "String"]])
    )
    assert out["ok"], out
    assert out["value"]["state"] == 0 and out["value"]["writes"] == ["Good"]
    assert out["value"]["policy"].endswith(policy) and out["value"]["mode"] in ("3", "SignAndEncrypt")
    cycle = node_opcua.run(
        "handshake", _secured_opts(secured, pki, policy=policy, parts=2, prefix=f"SEC-{policy}")
    )
    assert cycle["ok"], cycle
    assert [c["ResultPartId"] for c in cycle["value"]["cycles"]] == [f"SEC-{policy}-0", f"SEC-{policy}-1"]


def test_security_refusals(secured: Running, pki: Any, node_opcua: Any) -> None:
    refusals = {
        "untrusted certificate": node_opcua.run(
            "connect", _secured_opts(secured, pki, certificate=pki.rogue_cert, privateKey=pki.rogue_key)
        ),
        "None channel while security is on": node_opcua.run(
            "connect", _secured_opts(secured, pki, policy="None")
        ),
        "wrong password": node_opcua.run("connect", _secured_opts(secured, pki, password="not-it")),
        "anonymous": node_opcua.run("connect", _secured_opts(secured, pki, user=None)),
        "observer writes Trigger": node_opcua.run(
            "connect", _secured_opts(secured, pki, user="olga", writes=[["Trigger", False, "Boolean"]])
        ),
    }
    got = {k: (v["ok"], v.get("status") or v["value"]["writes"]) for k, v in refusals.items()}
    # the station answers OpenSecureChannel with an Error message; node-opcua logs its status and reports a
    # connection closed by the server
    untrusted = refusals["untrusted certificate"]
    assert untrusted["ok"] is False and "BadCertificateUntrusted" in untrusted["log"], untrusted
    # node-opcua finds no None endpoint (it discovered them over a None channel) and will not try; the
    # server's own refusal of a session there is test_plc_security.py::test_unsecured_channel_answers_...
    unsecured = refusals["None channel while security is on"]
    assert unsecured["ok"] is False and "End point must exist" in unsecured["status"], unsecured
    assert got["wrong password"] == (False, "BadUserAccessDenied"), refusals["wrong password"]
    assert got["anonymous"][0] is False, refusals["anonymous"]
    assert got["observer writes Trigger"] == (False, "BadUserAccessDenied")  # the whole Write refused
    rejected = Path(secured.cfg.opcua.trust_dir or "") / "rejected" / "certs"
    assert any(p.read_bytes() == pki.rogue_cert.read_bytes() for p in rejected.glob("*.der"))


def test_discovery_over_an_unsecured_channel_lists_secured_endpoints_only(
    secured: Running, node_opcua: Any
) -> None:
    out = node_opcua.run("endpoints", {"endpoint": secured.url})
    assert out["ok"], out
    assert sorted((e["policy"], e["mode"]) for e in out["value"]) == [
        ("Aes256_Sha256_RsaPss", "SignAndEncrypt"),
        ("Basic256Sha256", "SignAndEncrypt"),
    ]
    assert all(e["tokens"] == ["username"] for e in out["value"])  # no anonymous


def test_channel_and_session_certificates_must_match_raw_asyncua(secured: Running, pki: Any) -> None:
    """Issue 10, point 1, the way an attacker sends it (node-opcua always sends its channel's certificate)."""

    def attempt(channel: str, session: str | None) -> tuple[str, str]:
        certs = {"client": (pki.client_cert, pki.client_key), "rogue": (pki.rogue_cert, pki.rogue_key)}
        cert, key = certs[channel]
        return asyncio.run(
            raw_session(
                secured.url,
                channel_cert=cert,
                channel_key=key,
                server_cert=pki.server_cert,
                session_cert=certs[session][0].read_bytes() if session else None,
                user="otto",
                password=USERS["otto"][1],
            )
        )

    step, status = attempt("rogue", "client")
    assert step == "open" and "BadCertificateUntrusted" in status
    step, status = attempt("rogue", None)
    assert step == "open" and "BadCertificateUntrusted" in status
    assert attempt("client", None) == ("create", "BadCertificateInvalid")
    assert attempt("client", "client") == ("done", "Good")
