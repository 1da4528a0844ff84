"""Helpers for tests of the PLC link (and for integrators' own tests): real stations with the scripted camera
and model, clients and recorders for the VisionSystem nodes. Used by tests/plc; no mocks, real OPC UA."""

from __future__ import annotations

import asyncio
import os
import socket
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from asyncua import Client, Node, ua

from inspect_app.config import StationConfig, parse_config
from inspect_app.station import Station
from inspect_app.testing.fakes import (
    ScriptedDetector,
    wait_until,  # noqa: F401  (re-exported for the plc tests)
)
from plc.nodes import MV_NS, PROJECT_NS

CLIENT_URI = "urn:inspect-app:test-client"
USERS = {"olga": ("observer", "olga-pw"), "otto": ("operator", "otto-pw"), "erin": ("engineer", "erin-pw")}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]




def station_config(tmp_path: Path, opcua: dict[str, Any], **over: Any) -> StationConfig:
    data: dict[str, Any] = {
        "station": {"name": "plc-test"},
        "state_dir": str(tmp_path / "state"),
        "trigger": {"mode": "software", "queue_size": 16},
        "pipeline": {"stall_timeout_s": 30},
        "store": {"save_pass_every": 0, "commit_interval_ms": 2},
        "recipes": {
            "strict": {"model": "fake", "min_conf": 0.5, "description": "any defect fails"},
            "lenient": {"model": "fake", "min_conf": 0.5, "classes": {"short": {"max_count": 5}}},
        },
        "active_recipe": "strict",
        "opcua": opcua,
    }
    data.update(over)
    return parse_config(data)


def open_server(port: int, **extra: Any) -> dict[str, Any]:
    """Unsecured loopback server config (the demo's), with fast handshake timing."""
    return {
        "mode": "server",
        "endpoint": f"opc.tcp://127.0.0.1:{port}/",
        "security": ["None"],
        "allow_anonymous": True,
        "anonymous_role": "engineer",
        "handshake": {"ack_timeout_s": 5.0, "heartbeat_period_s": 0.05},
        **extra,
    }


@dataclass
class Running:
    station: Station
    link: Any
    detector: ScriptedDetector
    cfg: StationConfig

    @property
    def url(self) -> str:
        return self.cfg.opcua.endpoint

    @property
    def db(self) -> Path:
        return Path(self.cfg.state_dir) / "results.db"


class Vision:
    """Node helpers for a connected client."""

    def __init__(self, client: Client, mv: int, proj: int) -> None:
        self.client, self.mv, self.proj = client, mv, proj

    @classmethod
    async def connect(cls, client: Client) -> Vision:
        return cls(
            client, await client.get_namespace_index(MV_NS), await client.get_namespace_index(PROJECT_NS)
        )

    def hs(self, name: str) -> Node:
        return self.client.get_node(ua.NodeId(f"VisionSystem.Handshake.{name}", self.proj))

    def proj_node(self, path: str) -> Node:
        return self.client.get_node(ua.NodeId(f"VisionSystem.{path}", self.proj))

    def mv_node(self, path: str) -> Node:
        return self.client.get_node(ua.NodeId(f"VisionSystem{'.' + path if path else ''}", self.mv))

    async def call(self, path: str, *args: Any) -> Any:
        """Call the method at ``VisionSystem.<path>`` on its parent object."""
        parent = path.rsplit(".", 1)[0]
        return await self.mv_node(parent).call_method(ua.NodeId(f"VisionSystem.{path}", self.mv), *args)

    async def write(self, **values: Any) -> None:
        names = list(values)
        dvs = [
            ua.DataValue(
                ua.Variant(values[n], ua.VariantType.String if n == "PartId" else ua.VariantType.Boolean)
            )
            for n in names
        ]
        await self.client.write_values([self.hs(n) for n in names], dvs)

    async def wait_value(self, node: Node, pred: Callable[[Any], bool], timeout: float = 10.0) -> Any:
        deadline = time.monotonic() + timeout
        while True:
            value = await node.read_value()
            if pred(value) or time.monotonic() > deadline:
                return value
            await asyncio.sleep(0.005)

    async def inspect(self, part_id: str) -> dict[str, Any]:
        """One full handshake cycle; returns the result tags."""
        await self.write(PartId=part_id, Trigger=True)
        assert await self.wait_value(self.hs("ResultValid"), bool), f"no ResultValid for {part_id}"
        names = ["ResultPartId", "Pass", "Fail", "ResultCode", "ResultId", "DefectCount", "DetectionCount"]
        names.append("Busy")
        values = dict(zip(names, await self.client.read_values([self.hs(n) for n in names]), strict=True))
        await self.write(Trigger=False, Ack=True)
        assert await self.wait_value(self.hs("ResultValid"), lambda v: v is False) is False
        await self.write(Ack=False)
        return values


class Recorder:
    """Subscription handler that keeps every data change and event, in arrival order."""

    def __init__(self) -> None:
        self.changes: list[tuple[str, Any]] = []
        self.events: list[Any] = []
        self.names: dict[ua.NodeId, str] = {}
        self.on_change: Callable[[str, Any], None] | None = None

    def datachange_notification(self, node: Node, val: Any, data: Any) -> None:
        name = self.names.get(node.nodeid, str(node.nodeid))
        self.changes.append((name, val))
        if self.on_change:
            self.on_change(name, val)

    def event_notification(self, event: Any) -> None:
        self.events.append(event)


def run(coro: Any) -> Any:
    return asyncio.run(coro)


async def raw_session(
    url: str,
    *,
    channel_cert: Path,
    channel_key: Path,
    server_cert: Path,
    session_cert: bytes | None,
    user: str,
    password: str,
    policy: Any = None,
    application_uri: str = CLIENT_URI,
    until: str = "write",
) -> tuple[str, str]:
    """A client that says one thing in its secure channel and another in CreateSession, spoken service by
    service as an attacker would: the channel is opened with ``channel_cert`` (its key signs everything),
    CreateSession carries ``session_cert`` (None: empty). Then ActivateSession with a password, a Read and a
    Write of the handshake's PartId (``until="read"``: no Write). Returns (the step that was refused or
    "done", the status name)."""
    from asyncua.crypto.security_policies import SecurityPolicyBasic256Sha256

    c = Client(url, timeout=3)
    c.application_uri = application_uri
    await c.set_security(
        policy or SecurityPolicyBasic256Sha256,
        str(channel_cert),
        str(channel_key),
        server_certificate=str(server_cert),
        mode=ua.MessageSecurityMode.SignAndEncrypt,
    )
    step = "open"
    try:
        await c.connect_socket()
        await c.send_hello()
        await c.open_secure_channel()
        step = "create"
        params = ua.CreateSessionParameters(
            ClientDescription=ua.ApplicationDescription(
                ApplicationUri=application_uri, ApplicationType=ua.ApplicationType.Client
            ),
            EndpointUrl=url,
            SessionName="raw",
            ClientNonce=os.urandom(32),
            ClientCertificate=session_cert,
            RequestedSessionTimeout=60000,
            MaxResponseMessageSize=0,
        )
        response = await c.uaclient.create_session(params)
        c._server_nonce = response.ServerNonce
        c._policy_ids = response.ServerEndpoints[0].UserIdentityTokens
        step = "activate"
        await c.activate_session(user, password)
        step = "read"
        await c.get_node(ua.NodeId(ua.ObjectIds.Server_ServerStatus_State)).read_value()
        if until == "read":
            return "done", "Good"
        step = "write"
        proj = await c.get_namespace_index(PROJECT_NS)
        node = c.get_node(ua.NodeId("VisionSystem.Handshake.PartId", proj))
        await node.write_value(ua.DataValue(ua.Variant("RAW-1", ua.VariantType.String)))
    except ua.UaStatusCodeError as exc:
        return step, type(exc).__name__
    except (ua.UaError, OSError, TimeoutError, ConnectionError) as exc:
        return step, f"{type(exc).__name__}: {exc}"
    finally:
        c.disconnect_socket()
    return "done", "Good"
