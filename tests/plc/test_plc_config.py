"""The [opcua] config section, the certificate and password tools, and starting links as `inspect-app run`
does."""

from __future__ import annotations

import re
import stat
from pathlib import Path

import pytest
from cryptography import x509

from inspect_app.cli import main
from inspect_app.config import ConfigError, load_config, parse_config
from inspect_app.passwords import hash_password, verify_password
from plc.testing import free_port, open_server, station_config

REPO = Path(__file__).resolve().parents[2]


def _cfg(opcua: dict) -> dict:
    return {"recipes": {"r": {"model": "m"}}, "active_recipe": "r", "opcua": opcua}


def test_opcua_is_off_by_default_and_makes_no_link() -> None:
    from plc.link import make_link

    cfg = parse_config({"recipes": {"r": {"model": "m"}}, "active_recipe": "r"})
    assert cfg.opcua.mode == "off" and make_link(cfg) is None


@pytest.mark.parametrize(
    ("opcua", "expected"),
    [
        (
            {
                "mode": "server",
                "endpoint": "opc.tcp://10.0.0.5:4840/",
                "security": ["None"],
                "allow_anonymous": True,
            },
            "opcua.security: 'None' (unsecured) is only allowed on a loopback endpoint",
        ),
        (
            {
                "mode": "server",
                "endpoint": "opc.tcp://10.0.0.5:4840/",
                "security": ["None"],
                "allow_anonymous": True,
            },
            "opcua.allow_anonymous: anonymous login is only allowed on a loopback endpoint",
        ),
        (
            {"mode": "server", "users": {"u": {"password_hash": "x", "role": "observer"}}},
            "opcua.certificate: required with security Basic256Sha256, Aes256Sha256RsaPss",
        ),
        (
            {"mode": "server", "users": {"u": {"password_hash": "x", "role": "observer"}}},
            "opcua.trust_dir: required",
        ),
        (
            {"mode": "server", "security": ["None"], "users": {"bob": {"password_hash": "hunter2"}}},
            "opcua.users.bob.password_hash: must be a hash made by `inspect-app opcua hash-password`",
        ),
        ({"mode": "server", "security": ["None"]}, "opcua.users: no users and anonymous login off"),
        (
            {"mode": "client", "client": {"server_url": "opc.tcp://plc:4840/", "security": "None"}},
            "opcua.client.security: 'None' is only allowed for a loopback server_url",
        ),
        (
            {"mode": "server", "endpoint": "http://127.0.0.1/"},
            "opcua.endpoint: must be an opc.tcp://host:port/ URL",
        ),
        (
            {
                "mode": "client",
                "certificate": "c.der",
                "private_key": "k.pem",
                "client": {
                    "server_url": "opc.tcp://plc:4840/",
                    "security": "Basic256Sha256",
                    "nodes": {"result_valid": "ns=2;s=V", "result_part_id": "ns=2;s=P", "ack": "ns=2;s=A"},
                },
            },
            "opcua.client: server_certificate: required with security Basic256Sha256: pin the PLC's",
        ),
    ],
)
def test_insecure_or_incomplete_configs_are_refused_with_key_path(opcua: dict, expected: str) -> None:
    with pytest.raises(ConfigError) as err:
        parse_config(_cfg(opcua))
    assert expected in str(err.value)


def test_example_production_section_is_valid_and_secure(tmp_path: Path) -> None:
    """The commented [opcua] block of station.example.toml, uncommented, is a valid production config."""
    text = (REPO / "station.example.toml").read_text()
    block = text[text.index("# [opcua]\n") : text.index("# Client mode instead")]
    block = "\n".join(line[2:] for line in block.splitlines())
    block = block.replace("scrypt$16384$8$1$...$...", hash_password("pw"))
    base = (REPO / "station.example.toml").read_text().split("# PLC / MES link over OPC UA")[0]
    (tmp_path / "station.toml").write_text(base + "\n" + block)
    cfg = load_config(tmp_path / "station.toml")
    opc = cfg.opcua
    assert opc.mode == "server" and opc.security == ["Basic256Sha256", "Aes256Sha256RsaPss"]
    assert not opc.allow_anonymous and opc.secured
    assert {u.role for u in opc.users.values()} == {"operator", "observer", "engineer"}
    assert opc.certificate == (tmp_path / "pki" / "station_cert.der").resolve()  # relative to the file


def test_gen_cert_writes_cert_with_host_and_uri_and_private_key(tmp_path: Path) -> None:
    cert, key = tmp_path / "pki" / "c.der", tmp_path / "pki" / "k.pem"
    args = [
        "opcua",
        "gen-cert",
        "--cert",
        str(cert),
        "--key",
        str(key),
        "--uri",
        "urn:test:st",
        "--host",
        "station-7.line",
        "--host",
        "10.1.2.3",
    ]
    assert main(args) == 0
    c = x509.load_der_x509_certificate(cert.read_bytes())
    san = c.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert san.get_values_for_type(x509.DNSName) == ["station-7.line"]
    assert [str(ip) for ip in san.get_values_for_type(x509.IPAddress)] == ["10.1.2.3"]
    assert san.get_values_for_type(x509.UniformResourceIdentifier) == ["urn:test:st"]
    assert stat.S_IMODE(key.stat().st_mode) == 0o600
    assert b"PRIVATE KEY" in key.read_bytes()
    assert main(args) == 2  # never overwrites a certificate clients already trust, unless --force


def test_hash_password_command(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("TEST_OPCUA_PW", "s3cret pass")
    assert main(["opcua", "hash-password", "--password-env", "TEST_OPCUA_PW"]) == 0
    hashed = capsys.readouterr().out.strip()
    assert re.match(r"^scrypt\$\d+\$8\$1\$\S+\$\S+$", hashed)
    assert verify_password("s3cret pass", hashed) and not verify_password("s3cret-pass", hashed)
    assert hashed != hash_password("s3cret pass")  # salted
    parse_config(
        _cfg(
            {
                "mode": "server",
                "security": ["None"],
                "users": {"u": {"password_hash": hashed, "role": "operator"}},
            }
        )
    )


def test_a_run_session_starts_the_link_and_refuses_to_run_without_one_that_fails(tmp_path: Path) -> None:
    """As `inspect-app run` and the window start a station (inspect_app.run_session): the link after the
    station; a link that cannot start stops the start, said plainly: no silent station."""
    from inspect_app.run_session import RunSession, SessionError
    from inspect_app.station import Station
    from inspect_app.testing.fakes import ScriptedDetector, ScriptedSource, part_image

    port = free_port()

    def session(name: str) -> RunSession:
        cfg = station_config(tmp_path / name, open_server(port))
        source = ScriptedSource([part_image(False)], loop=True)
        factory = lambda: Station(cfg, source=source, detectors={"fake": ScriptedDetector()})  # noqa: E731
        return RunSession(cfg, factory, control_socket=False)

    first = session("a")
    first.start()
    try:
        status = first.links[0].status()
        assert status["security"] == "None (unsecured, loopback only)" and status["connected"] is True
        health = first.health()
        assert health is not None and [(x.name, x.secured, x.security_mode) for x in health.links] == [
            ("opcua", False, "None")
        ]
        second = session("b")  # a second server for the same port
        with pytest.raises(SessionError) as refused:
            second.start()
        second.close()
        assert f"cannot start link opcua: OPC UA server on opc.tcp://127.0.0.1:{port}/ cannot start" in str(
            refused.value
        )
    finally:
        first.stop()
        first.close()
