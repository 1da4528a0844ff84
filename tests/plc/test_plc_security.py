"""Security of the embedded server over the real protocol: production policies work, the rest is refused."""

from __future__ import annotations

import asyncio
import contextlib
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

from asyncua import Client, ua
from asyncua.crypto.security_policies import SecurityPolicyAes256Sha256RsaPss, SecurityPolicyBasic256Sha256

from plc.testing import CLIENT_URI, USERS, Running, Vision, wait_until


async def _client(
    r: Running,
    pki: Any,
    user: str | None,
    password: str | None = None,
    *,
    policy: Any = SecurityPolicyBasic256Sha256,
    cert: Path | None = None,
    key: Path | None = None,
) -> Client:
    c = Client(r.url, timeout=3)
    c.application_uri = CLIENT_URI
    await c.set_security(
        policy,
        str(cert or pki.client_cert),
        str(key or pki.client_key),
        server_certificate=str(pki.server_cert),
        mode=ua.MessageSecurityMode.SignAndEncrypt,
    )
    if user:
        c.set_user(user)
        c.set_password(password if password is not None else USERS[user][1])
    return c


async def _refusal_in_loop(coro: Any) -> str:
    try:
        await coro
    except ua.UaStatusCodeError as exc:
        return type(exc).__name__
    except ua.UaError as exc:
        return f"UaError: {exc}"
    return "accepted"


def _refusal(coro: Any) -> str:
    return asyncio.run(_refusal_in_loop(coro))


def test_production_policies_accept_a_trusted_operator(secured: Running, pki: Any) -> None:
    async def go(policy: Any) -> tuple[str, str]:
        c = await _client(secured, pki, "otto", policy=policy)
        async with c:
            v = await Vision.connect(c)
            result = await v.inspect(f"S-{policy.__name__[-6:]}")
            endpoints = await c.get_endpoints()
        modes = {(e.SecurityPolicyUri.split("#")[1], e.SecurityMode.name) for e in endpoints}
        return result["ResultPartId"], str(sorted(modes))

    status = secured.link.status()
    assert status["secured"] is True and status["faults"] == []
    assert status["security_mode"] == "Basic256Sha256/SignAndEncrypt + Aes256Sha256RsaPss/SignAndEncrypt"
    for policy in (SecurityPolicyBasic256Sha256, SecurityPolicyAes256Sha256RsaPss):
        part, modes = asyncio.run(go(policy))
        assert part == f"S-{policy.__name__[-6:]}"
        # only the two production policies, SignAndEncrypt, are offered: no None endpoint, no Sign-only
        assert modes == str(
            sorted({("Basic256Sha256", "SignAndEncrypt"), ("Aes256_Sha256_RsaPss", "SignAndEncrypt")})
        )


def test_anonymous_and_wrong_password_are_refused(secured: Running, pki: Any) -> None:
    async def connect(user: str | None, password: str | None = None) -> None:
        c = await _client(secured, pki, user, password)
        try:
            await c.connect()
        finally:
            await _quiet_disconnect(c)

    assert _refusal(connect(None)) == "BadIdentityTokenRejected"
    assert _refusal(connect("otto", "not-the-password")) == "BadUserAccessDenied"
    assert _refusal(connect("mallory", "otto-pw")) == "BadUserAccessDenied"


def test_untrusted_client_certificate_is_refused(secured: Running, pki: Any) -> None:
    async def connect() -> None:
        c = await _client(secured, pki, "otto", cert=pki.rogue_cert, key=pki.rogue_key)
        try:
            await c.connect()
        finally:
            await _quiet_disconnect(c)

    assert _refusal(connect()) == "BadCertificateUntrusted"


def test_unsecured_channel_answers_discovery_only(secured: Running) -> None:
    """Security policy None is off: a None channel may still be opened (clients discover the endpoints over
    one), but only GetEndpoints/FindServers are answered there. A login is never looked at, so a password
    neither travels to be checked in clear nor learns whether it is right."""
    plain = Client(secured.url, timeout=3)
    assert _refusal(plain.connect()) == "BadSecurityModeInsufficient"

    async def sneak() -> tuple[list[str], str, str]:
        c = Client(secured.url, timeout=3)
        await c.connect_socket()
        try:
            await c.send_hello()
            await c.open_secure_channel()  # SecurityPolicy None
            endpoints = await c.uaclient.get_endpoints(ua.GetEndpointsParameters(EndpointUrl=secured.url))
            modes = sorted(e.SecurityMode.name for e in endpoints)
            params = ua.CreateSessionParameters(
                ClientDescription=ua.ApplicationDescription(
                    ApplicationUri=CLIENT_URI, ApplicationType=ua.ApplicationType.Client
                ),
                EndpointUrl=secured.url,
                SessionName="sneak",
                ClientNonce=os.urandom(32),
                RequestedSessionTimeout=60000,
                MaxResponseMessageSize=0,
            )
            create = await _refusal_in_loop(c.uaclient.create_session(params))
            token = ua.UserNameIdentityToken(
                PolicyId="username", UserName="otto", Password=USERS["otto"][1].encode()
            )
            activate = await _refusal_in_loop(
                c.uaclient.activate_session(
                    ua.ActivateSessionParameters(UserIdentityToken=token, LocaleIds=["en"])
                )
            )
            return modes, create, activate
        finally:
            c.disconnect_socket()

    modes, create, activate = asyncio.run(sneak())
    assert modes == ["SignAndEncrypt", "SignAndEncrypt"]  # discovery works, and lists secured endpoints only
    assert create == "BadSecurityModeInsufficient"
    assert activate == "BadSecurityModeInsufficient"


def test_roles_are_enforced_per_node_and_method(secured: Running, pki: Any) -> None:
    async def as_user(user: str, action: Callable[[Vision], Any]) -> str:
        c = await _client(secured, pki, user)
        async with c:
            v = await Vision.connect(c)
            try:
                await action(v)
            except ua.UaStatusCodeError as exc:
                return type(exc).__name__
        return "Good"

    def select(v: Vision) -> Any:
        return v.proj_node("Configuration.RecipeSelect").write_value("lenient")

    def prepare(v: Vision) -> Any:
        return v.call("RecipeManagement.PrepareRecipe", "lenient")

    def trigger(v: Vision) -> Any:
        return v.write(PartId="R-1", Trigger=False)

    def write_output(v: Vision) -> Any:
        return v.hs("ResultValid").write_value(True)

    def read(v: Vision) -> Any:
        return v.proj_node("Counters.Total").read_value()

    def query(v: Vision) -> Any:
        return v.call("ResultManagement.GetResultListFiltered", "", "", None, 5)

    results = {
        "operator writes engineer-only RecipeSelect": asyncio.run(as_user("otto", select)),
        "operator calls PrepareRecipe": asyncio.run(as_user("otto", prepare)),
        "observer writes Trigger": asyncio.run(as_user("olga", trigger)),
        "engineer writes a station output": asyncio.run(as_user("erin", write_output)),
        "observer reads counters": asyncio.run(as_user("olga", read)),
        "observer queries results": asyncio.run(as_user("olga", query)),
        "operator writes Trigger": asyncio.run(as_user("otto", trigger)),
    }
    assert secured.station.recipe == "strict"  # nothing refused had any effect
    results["engineer calls PrepareRecipe"] = asyncio.run(as_user("erin", prepare))
    assert results == {
        "operator writes engineer-only RecipeSelect": "BadUserAccessDenied",
        "operator calls PrepareRecipe": "BadUserAccessDenied",
        "observer writes Trigger": "BadUserAccessDenied",
        "engineer writes a station output": "BadUserAccessDenied",
        "observer reads counters": "Good",
        "observer queries results": "Good",
        "operator writes Trigger": "Good",
        "engineer calls PrepareRecipe": "Good",
    }
    assert wait_until(lambda: secured.station.recipe == "lenient")


async def _quiet_disconnect(c: Client) -> None:
    with contextlib.suppress(TimeoutError, OSError, ua.UaError, AttributeError):
        await c.disconnect()
