"""Fixtures for the PLC link tests: real stations (scripted camera and model), real OPC UA on 127.0.0.1,
certificates made once per session. Helpers live in plc.testing."""

from __future__ import annotations

import shutil
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from inspect_app.config import StationConfig
from inspect_app.passwords import hash_password
from inspect_app.station import Station
from inspect_app.testing.fakes import ScriptedDetector, ScriptedSource, part_image
from plc.certs import generate_certificate
from plc.link import make_link
from plc.testing import CLIENT_URI, USERS, Running, free_port, station_config


@dataclass
class Pki:
    root: Path
    server_cert: Path
    server_key: Path
    trust_dir: Path
    client_cert: Path
    client_key: Path
    rogue_cert: Path
    rogue_key: Path
    client2_cert: Path  # a second trusted client
    client2_key: Path
    users: dict[str, dict[str, str]]


@pytest.fixture(scope="session")
def pki(tmp_path_factory: pytest.TempPathFactory) -> Pki:
    root = tmp_path_factory.mktemp("pki")
    trust = root / "trusted"
    trust.mkdir()
    generate_certificate(
        root / "server.der", root / "server.pem", "urn:inspect-app:test-station", ["localhost", "127.0.0.1"]
    )
    generate_certificate(
        root / "client.der", root / "client.pem", CLIENT_URI, ["localhost"], client_only=True
    )
    generate_certificate(root / "rogue.der", root / "rogue.pem", CLIENT_URI, ["localhost"], client_only=True)
    generate_certificate(
        root / "client2.der", root / "client2.pem", CLIENT_URI, ["localhost"], client_only=True
    )
    shutil.copy(root / "client.der", trust / "client.der")  # the rogue's certificate is never trusted
    shutil.copy(root / "client2.der", trust / "client2.der")
    users = {name: {"password_hash": hash_password(pw), "role": role} for name, (role, pw) in USERS.items()}
    return Pki(
        root,
        root / "server.der",
        root / "server.pem",
        trust,
        root / "client.der",
        root / "client.pem",
        root / "rogue.der",
        root / "rogue.pem",
        root / "client2.der",
        root / "client2.pem",
        users,
    )


@pytest.fixture(scope="module")
def secured(tmp_path_factory: pytest.TempPathFactory, pki: Pki) -> Iterator[Running]:
    """One secured station per test module (its start is the slow part), with its own copy of the trust
    folder (flat layout, as earlier versions had it) so a module may change what it trusts."""
    port = free_port()
    work = tmp_path_factory.mktemp("secured")
    trust = work / "pki"
    shutil.copytree(pki.trust_dir, trust)
    opcua = {
        "mode": "server",
        "endpoint": f"opc.tcp://127.0.0.1:{port}/",
        "security": ["Basic256Sha256", "Aes256Sha256RsaPss"],
        "application_uri": "urn:inspect-app:test-station",
        "certificate": str(pki.server_cert),
        "private_key": str(pki.server_key),
        "trust_dir": str(trust),
        "users": pki.users,
        "handshake": {"heartbeat_period_s": 0.05},
    }
    cfg = station_config(work, opcua)
    det = ScriptedDetector()
    st = Station(cfg, source=ScriptedSource([part_image(False)], loop=True), detectors={"fake": det})
    st.start()
    link = make_link(cfg)
    assert link is not None
    link.start(st)
    yield Running(st, link, det, cfg)
    link.stop()
    st.stop()


@pytest.fixture
def start_station() -> Iterator[Callable[..., Running]]:
    """``start_station(cfg, script=None)``: a started station with its OPC UA link (``with_link=False``:
    built, not started; the test starts it); stopped at teardown."""
    running: list[Running] = []

    def start(
        cfg: StationConfig,
        script: list | None = None,
        detector: ScriptedDetector | None = None,
        max_parts: int | None = None,
        with_link: bool = True,
    ) -> Running:
        detector = detector or ScriptedDetector()
        script = script or [part_image(False), part_image(True)]
        st = Station(
            cfg, source=ScriptedSource(script, loop=True), detectors={"fake": detector}, max_parts=max_parts
        )
        st.start()
        link = make_link(cfg)
        if link is not None and with_link:
            try:
                link.start(st)
            except BaseException:
                st.stop()
                raise
        r = Running(st, link, detector, cfg)
        running.append(r)
        return r

    yield start
    for r in reversed(running):
        r.detector.release()
        if r.link is not None:
            r.link.stop()
        r.station.stop()
