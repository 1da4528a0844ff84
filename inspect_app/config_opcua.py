"""The ``[opcua]`` section of the station config: the PLC/MES link over OPC UA (see docs/plc-handshake.md).

``mode = "off"`` (the default) starts no link. ``"server"`` embeds an OPC UA server in the station (the PLC
and the MES are its clients); ``"client"`` makes the station write its results into the PLC's own server.

Security rules checked here, so that a station cannot be started half-secured by a typo: the policy "None" and
anonymous login are refused on any endpoint that is not loopback; secured policies need a certificate, its key
and a trust directory (the PKI folder client certificates are checked against, docs/opcua-security.md);
passwords are stored hashed only (``inspect-app opcua hash-password``).
"""

from __future__ import annotations

import ipaddress
import re
from pathlib import Path
from typing import Literal
from urllib.parse import urlparse

from pydantic import BaseModel, ConfigDict, Field, ValidationInfo, field_validator


class _Strict(BaseModel):
    # the same base as config._Strict; defined here, not imported, because config.py imports this module
    model_config = ConfigDict(extra="forbid", frozen=True)


SecurityPolicyName = Literal["None", "Basic256Sha256", "Aes256Sha256RsaPss", "Aes128Sha256RsaOaep"]
Role = Literal["observer", "operator", "engineer"]
PRODUCTION_POLICIES: list[SecurityPolicyName] = ["Basic256Sha256", "Aes256Sha256RsaPss"]

# scrypt$N$r$p$salt$hash (base64); made by `inspect-app opcua hash-password`
_HASH_RE = re.compile(r"^scrypt\$\d+\$\d+\$\d+\$[A-Za-z0-9+/=]+\$[A-Za-z0-9+/=]+$")


def is_loopback_url(url: str) -> bool:
    """True when ``url`` (opc.tcp://host:port/...) names this machine only (127.0.0.0/8, ::1, localhost)."""
    host = urlparse(url).hostname or ""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _check_url(url: str) -> str:
    parsed = urlparse(url)
    if parsed.scheme != "opc.tcp" or not parsed.hostname:
        raise ValueError(f"must be an opc.tcp://host:port/ URL (got {url!r})")
    try:
        parsed.port  # noqa: B018 - raises on a non-numeric port
    except ValueError:
        raise ValueError(f"bad port in {url!r}") from None
    return url


class OpcUaUser(_Strict):
    password_hash: str = Field(description="scrypt hash from `inspect-app opcua hash-password`")
    role: Role = "observer"

    @field_validator("password_hash")
    @classmethod
    def _hashed(cls, v: str) -> str:
        if not _HASH_RE.match(v):
            raise ValueError(
                "must be a hash made by `inspect-app opcua hash-password` (scrypt$...), "
                "never a plain password"
            )
        return v


class HandshakeConfig(_Strict):
    """The flat Trigger/Ack handshake for PLCs that only read and write variables."""

    ack_timeout_s: float = Field(2.0, gt=0, description="ResultValid unacknowledged this long raises a fault")
    heartbeat_period_s: float = Field(0.25, gt=0, le=10, description="Heartbeat/Ready refresh")


class ClientNodeIds(_Strict):
    """Node ids in the PLC's own server (client mode). Inputs are read from the PLC, outputs written to it.
    Unset outputs are not written; ``result_valid``, ``result_part_id`` and ``ack`` are required."""

    trigger: str | None = Field(None, description="PLC -> station: rising edge starts an inspection")
    part_id: str | None = Field(None, description="PLC -> station: id of the part to inspect")
    ack: str | None = Field(None, description="PLC -> station: the result was taken")
    ack_seq: str | None = Field(None, description="PLC -> station: the ResultSeq it took (retentive)")
    busy: str | None = None
    ready: str | None = None
    result_valid: str | None = None
    result_pass: str | None = None
    result_fail: str | None = None
    result_code: str | None = None
    result_part_id: str | None = None
    result_seq: str | None = Field(None, description="station -> PLC: outbox sequence of the result")
    fault: str | None = None
    fault_code: str | None = None
    heartbeat: str | None = None
    unsignalled_count: str | None = Field(None, description="parts whose result missed the link (UInt32)")
    unsignalled_parts: str | None = Field(None, description="their part ids (String array)")


class OpcUaClientConfig(_Strict):
    server_url: str = Field("opc.tcp://127.0.0.1:4841/", description="the PLC's OPC UA endpoint")
    security: SecurityPolicyName = "Basic256Sha256"
    server_certificate: Path | None = Field(None, description="the PLC's certificate (pinned)")
    username: str | None = None
    password_env: str = Field("INSPECT_APP_PLC_PASSWORD", description="env variable with the password")
    session_timeout_s: float = Field(30.0, ge=5, le=3600)
    keepalive_s: float = Field(1.0, gt=0, le=30, description="watchdog period: a dead link is seen this fast")
    request_timeout_s: float = Field(2.0, gt=0, le=60)
    reconnect_min_s: float = Field(0.5, gt=0)
    reconnect_max_s: float = Field(10.0, gt=0)
    publishing_interval_ms: float = Field(10.0, ge=0, description="subscription on Trigger/Ack")
    outbox_db: str = Field("plc_outbox.db", description="persistent outbox, relative to state_dir")
    unsignalled_keep: int = Field(64, ge=1, le=10_000, description="part ids kept in unsignalled_parts")
    nodes: ClientNodeIds = ClientNodeIds()

    @field_validator("server_url")
    @classmethod
    def _url(cls, v: str) -> str:
        return _check_url(v)

    @field_validator("security")
    @classmethod
    def _none_on_loopback_only(cls, v: str, info: ValidationInfo) -> str:
        url = info.data.get("server_url", "")
        if v == "None" and url and not is_loopback_url(url):
            raise ValueError(
                f"'None' is only allowed for a loopback server_url (got {url}); use Basic256Sha256"
            )
        return v


class OpcUaConfig(_Strict):
    mode: Literal["off", "server", "client"] = "off"
    endpoint: str = Field("opc.tcp://127.0.0.1:4840/", description="where the embedded server listens")
    application_uri: str = "urn:inspect-app:station"
    security: list[SecurityPolicyName] = Field(
        default_factory=lambda: list(PRODUCTION_POLICIES), min_length=1, description="SignAndEncrypt always"
    )
    certificate: Path | None = Field(None, validate_default=True, description="from `opcua gen-cert` (DER)")
    private_key: Path | None = Field(None, validate_default=True, description="PEM")
    trust_dir: Path | None = Field(
        None,
        validate_default=True,
        description="PKI folder (trusted/, issuers/, rejected/; docs/opcua-security.md); certificates"
        " directly in it are trusted too",
    )
    allow_anonymous: bool = False
    anonymous_role: Role = "observer"
    users: dict[str, OpcUaUser] = Field(default_factory=dict, validate_default=True)
    result_list_max: int = Field(100, ge=1, le=10_000, description="GetResultListFiltered cap")
    handshake: HandshakeConfig = HandshakeConfig()
    client: OpcUaClientConfig = OpcUaClientConfig()

    @property
    def secured(self) -> bool:
        """True when the link uses only encrypted policies (what the UI reports)."""
        policies = [self.client.security] if self.mode == "client" else self.security
        return "None" not in policies

    @field_validator("endpoint")
    @classmethod
    def _endpoint(cls, v: str) -> str:
        return _check_url(v)

    @field_validator("security")
    @classmethod
    def _policies(cls, v: list[str], info: ValidationInfo) -> list[str]:
        if len(set(v)) != len(v):
            raise ValueError("lists a policy twice")
        endpoint = info.data.get("endpoint", "")
        if "None" in v and endpoint and not is_loopback_url(endpoint):
            raise ValueError(
                f"'None' (unsecured) is only allowed on a loopback endpoint, not {endpoint}; "
                f"use {' + '.join(PRODUCTION_POLICIES)} (SignAndEncrypt)"
            )
        return v

    @field_validator("certificate", "private_key", "trust_dir")
    @classmethod
    def _pki_needed(cls, v: Path | None, info: ValidationInfo) -> Path | None:
        # the server needs its own certificate and a trust list for every secured policy (a secured client's
        # needs are checked with the client section, which is validated after these fields)
        mode = info.data.get("mode")
        server_secured = mode == "server" and any(p != "None" for p in info.data.get("security", []))
        if v is None and info.field_name in ("certificate", "private_key") and server_secured:
            raise ValueError(
                f"required with security {', '.join(p for p in info.data['security'] if p != 'None')} "
                "(make one with `inspect-app opcua gen-cert`)"
            )
        if v is None and info.field_name == "trust_dir" and server_secured:
            raise ValueError("required with a secured policy: client certificates are checked against it")
        return v

    @field_validator("allow_anonymous")
    @classmethod
    def _anonymous_on_loopback_only(cls, v: bool, info: ValidationInfo) -> bool:
        endpoint = info.data.get("endpoint", "")
        if v and info.data.get("mode") == "server" and endpoint and not is_loopback_url(endpoint):
            raise ValueError(f"anonymous login is only allowed on a loopback endpoint, not {endpoint}")
        return v

    @field_validator("users")
    @classmethod
    def _someone_can_log_in(cls, v: dict[str, OpcUaUser], info: ValidationInfo) -> dict[str, OpcUaUser]:
        # allow_anonymous missing from data means it was itself refused: that error is enough
        anonymous = info.data.get("allow_anonymous", True)
        if info.data.get("mode") == "server" and not v and not anonymous:
            raise ValueError(
                "no users and anonymous login off: nobody could connect "
                "(add [opcua.users.NAME] with a hash from `inspect-app opcua hash-password`)"
            )
        return v

    @field_validator("client")
    @classmethod
    def _client_pki(cls, v: OpcUaClientConfig, info: ValidationInfo) -> OpcUaClientConfig:
        if info.data.get("mode") != "client":
            return v
        missing = [k for k in ("result_valid", "result_part_id", "ack") if getattr(v.nodes, k) is None]
        if missing:
            raise ValueError(f"nodes.{missing[0]}: required in client mode (the PLC's node id)")
        if v.security != "None" and not (info.data.get("certificate") and info.data.get("private_key")):
            raise ValueError(
                f"security {v.security} needs opcua.certificate and opcua.private_key (the station's own)"
            )
        if v.security != "None" and v.server_certificate is None:
            raise ValueError(
                f"server_certificate: required with security {v.security}: pin the PLC's certificate, "
                "so the station never sends results to an impostor"
            )
        return v


def resolve_opcua_paths(cfg: OpcUaConfig, base: Path) -> OpcUaConfig:
    """Certificate, key, trust and PLC-certificate paths are relative to the config file."""

    def fix(p: Path | None) -> Path | None:
        return None if p is None or p.is_absolute() else (base / p).resolve()

    client = cfg.client.model_copy(update={"server_certificate": fix(cfg.client.server_certificate)})
    return cfg.model_copy(
        update={
            "certificate": fix(cfg.certificate),
            "private_key": fix(cfg.private_key),
            "trust_dir": fix(cfg.trust_dir),
            "client": client,
        }
    )
