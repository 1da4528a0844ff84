"""The checks asyncua's server leaves out (plc.channel_guard), over the real protocol: the secure channel's
certificate must be trusted and be the session's; trust changes take effect without a restart; failed logins
are logged and limited per address. And the asyncua behaviour these checks were written against, pinned."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import shutil
from pathlib import Path
from typing import Any

import asyncua
import pytest
from asyncua import Client, Server, ua
from asyncua.crypto.security_policies import SecurityPolicyAes256Sha256RsaPss, SecurityPolicyBasic256Sha256
from asyncua.crypto.truststore import TrustStore
from asyncua.crypto.validator import CertificateValidator, CertificateValidatorOptions

from plc.testing import CLIENT_URI, USERS, Running, free_port, raw_session, wait_until

ASYNCUA_REVIEWED = "2.1.0"


def _raw(r: Running, pki: Any, channel: str, session: str | None, **kw: Any) -> tuple[str, str]:
    certs = {"client": pki.client_cert, "client2": pki.client2_cert, "rogue": pki.rogue_cert}
    keys = {"client": pki.client_key, "client2": pki.client2_key, "rogue": pki.rogue_key}
    session_cert = certs[session].read_bytes() if session else None
    user = kw.pop("user", "otto")
    return asyncio.run(
        raw_session(
            r.url,
            channel_cert=certs[channel],
            channel_key=keys[channel],
            server_cert=pki.server_cert,
            session_cert=session_cert,
            user=user,
            password=kw.pop("password", USERS[user][1]),
            **kw,
        )
    )


def test_asyncua_is_the_reviewed_version_and_still_has_the_gap(tmp_path: Path, pki: Any) -> None:
    """plc.channel_guard subclasses asyncua internals and copies Server.start of the reviewed version. On a
    plain asyncua server with a trust list, a client whose channel certificate is NOT trusted still gets a
    session by sending CreateSession without a certificate: that gap is why the guard exists. When asyncua
    changes, review plc/channel_guard.py and plc/guarded_server.py against it, then update this test."""
    assert asyncua.__version__ == ASYNCUA_REVIEWED, (
        f"asyncua {asyncua.__version__}: review plc/channel_guard.py (written against {ASYNCUA_REVIEWED})"
    )

    async def plain() -> tuple[str, str]:
        server = Server()
        await server.init()
        url = f"opc.tcp://127.0.0.1:{free_port()}/"
        server.set_endpoint(url)
        await server.load_certificate(str(pki.server_cert))
        await server.load_private_key(str(pki.server_key))
        server.set_security_policy([ua.SecurityPolicyType.Basic256Sha256_SignAndEncrypt])
        store = TrustStore([pki.trust_dir], [])
        await store.load()
        options = CertificateValidatorOptions.TRUSTED_VALIDATION | CertificateValidatorOptions.PEER_CLIENT
        server.set_certificate_validator(CertificateValidator(options, store))
        await server.start()
        try:
            return await raw_session(
                url,
                channel_cert=pki.rogue_cert,
                channel_key=pki.rogue_key,
                server_cert=pki.server_cert,
                session_cert=None,
                user="anyone",
                password="x",
                until="read",
            )
        finally:
            await server.stop()

    assert asyncio.run(plain()) == ("done", "Good")


@pytest.mark.parametrize("policy", [SecurityPolicyBasic256Sha256, SecurityPolicyAes256Sha256RsaPss])
def test_untrusted_channel_certificate_gets_nothing_whatever_createsession_says(
    secured: Running, pki: Any, policy: Any
) -> None:
    """Issue 10, point 1: the untrusted channel is refused at OpenSecureChannel, before any session."""
    empty = _raw(secured, pki, "rogue", None, policy=policy)
    borrowed = _raw(secured, pki, "rogue", "client", policy=policy)  # a trusted client's public certificate
    assert empty[0] == "open" and "BadCertificateUntrusted" in empty[1], empty
    assert borrowed[0] == "open" and "BadCertificateUntrusted" in borrowed[1], borrowed


def test_createsession_certificate_must_be_the_channel_certificate(secured: Running, pki: Any) -> None:
    assert _raw(secured, pki, "client", None) == ("create", "BadCertificateInvalid")
    # both certificates trusted, but the session claims to be another client than the channel's key holder
    assert _raw(secured, pki, "client", "client2") == ("create", "BadCertificateInvalid")
    assert _raw(secured, pki, "client", "client") == ("done", "Good")
    assert _raw(secured, pki, "client2", "client2") == ("done", "Good")


def test_failed_logins_are_logged_and_limited_per_address(
    secured: Running, pki: Any, caplog: pytest.LogCaptureFixture
) -> None:
    limiter = secured.link.guard.limiter
    limiter.base_s = limiter.max_s = 600.0  # the block outlasts the test however slow the machine
    caplog.set_level(logging.WARNING, logger="plc.channel_guard")
    try:
        wrong = [_raw(secured, pki, "client", "client", password="guess") for _ in range(4)]
        right = [_raw(secured, pki, "client", "client") for _ in range(3)]
    finally:
        limiter.succeeded("127.0.0.1")
        limiter.base_s, limiter.max_s = 1.0, 300.0
    assert wrong == [("activate", "BadUserAccessDenied")] * 4
    # blocked after the 4th failure: the right password is not even checked
    assert right == [("activate", "BadUserAccessDenied")] * 3
    lines = [r.getMessage() for r in caplog.records if r.name == "plc.channel_guard"]
    failed = [m for m in lines if "login from 127.0.0.1" in m and "failed" in m]
    blocked = [m for m in lines if "refused without checking" in m]
    assert len(failed) == 4 and "refused for 600s" in failed[-1], lines
    assert len(blocked) == 1, lines  # one line per block, not one per attempt
    assert _raw(secured, pki, "client", "client") == ("done", "Good")


def test_trust_changes_take_effect_without_restart(secured: Running, pki: Any) -> None:
    trust = Path(secured.cfg.opcua.trust_dir or "")
    flat = trust / "client.der"  # the flat layout of earlier versions, as the module's copy has it

    async def session_reads() -> bool:
        c = Client(secured.url, timeout=3)
        c.application_uri = CLIENT_URI
        await c.set_security(
            SecurityPolicyBasic256Sha256,
            str(pki.client_cert),
            str(pki.client_key),
            server_certificate=str(pki.server_cert),
            mode=ua.MessageSecurityMode.SignAndEncrypt,
        )
        c.set_user("olga")
        c.set_password(USERS["olga"][1])
        await c.connect()
        node = c.get_node(ua.NodeId(ua.ObjectIds.Server_ServerStatus_State))
        await node.read_value()
        flat.unlink()  # the engineer revokes the client: its live session ends too
        closed = False
        for _ in range(200):
            try:
                await node.read_value()
            except (ua.UaError, ConnectionError, OSError, TimeoutError):
                closed = True
                break
            await asyncio.sleep(0.05)
        with contextlib.suppress(ua.UaError, ConnectionError, OSError, TimeoutError):
            await c.disconnect()
        return closed

    assert asyncio.run(session_reads())
    step, status = _raw(secured, pki, "client", "client")
    assert step == "open" and "BadCertificateUntrusted" in status
    rejected = list((trust / "rejected/certs").glob("*.der"))
    mine = [p for p in rejected if p.read_bytes() == pki.client_cert.read_bytes()]
    assert len(mine) == 1, rejected
    shutil.move(mine[0], trust / "trusted/certs" / mine[0].name)  # trusted again with a move
    assert wait_until(lambda: _raw(secured, pki, "client", "client") == ("done", "Good"), 10)


def test_a_session_is_reactivated_only_by_the_holder_of_its_certificate(secured: Running, pki: Any) -> None:
    """asyncua lets another channel re-activate a live session by its (sequential) authentication token.
    Here client2, trusted and even given the session's last nonce, tries to take over client's session."""

    async def takeover() -> tuple[str, object]:
        owner = Client(secured.url, timeout=3)
        owner.application_uri = CLIENT_URI
        await owner.set_security(
            SecurityPolicyBasic256Sha256,
            str(pki.client_cert),
            str(pki.client_key),
            server_certificate=str(pki.server_cert),
            mode=ua.MessageSecurityMode.SignAndEncrypt,
        )
        owner.set_user("olga")
        owner.set_password(USERS["olga"][1])
        async with owner:
            assert owner.uaclient.protocol is not None
            token = owner.uaclient.protocol.authentication_token
            thief = Client(secured.url, timeout=3)
            thief.application_uri = CLIENT_URI
            await thief.set_security(
                SecurityPolicyBasic256Sha256,
                str(pki.client2_cert),
                str(pki.client2_key),
                server_certificate=str(pki.server_cert),
                mode=ua.MessageSecurityMode.SignAndEncrypt,
            )
            await thief.connect_socket()
            try:
                await thief.send_hello()
                await thief.open_secure_channel()
                assert thief.uaclient.protocol is not None
                thief.uaclient.protocol.authentication_token = token
                thief._server_nonce = owner._server_nonce
                thief._policy_ids = owner._policy_ids
                try:
                    await thief.activate_session("otto", USERS["otto"][1])
                    outcome = "Good"
                except ua.UaStatusCodeError as exc:
                    outcome = type(exc).__name__
            finally:
                thief.disconnect_socket()
            still = await owner.get_node(ua.NodeId(ua.ObjectIds.Server_ServerStatus_State)).read_value()
        return outcome, still

    outcome, still = asyncio.run(takeover())
    assert outcome == "BadSecurityChecksFailed"
    assert still == ua.ServerState.Running  # the owner's session goes on
