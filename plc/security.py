"""Who may do what on the embedded server: users with hashed passwords, roles, and per-node checks.

Roles (each includes the ones before it):

* observer - read, browse, subscribe, query results;
* operator - also the handshake inputs (Trigger, PartId, Ack, FaultReset) and the job methods;
* engineer - also recipes (PrepareRecipe, RecipeSelect) and Halt / SelectModeAutomatic.

asyncua checks a request against the session's user only by request type. :class:`RolePermissions` looks into
Write and Call requests too, so an operator writing an engineer-only node gets BadUserAccessDenied before
anything is written. Remote admin (AddNodes, DeleteNodes, ...) is refused to everyone.
"""

from __future__ import annotations

import contextvars
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from asyncua import ua
from asyncua.common.utils import ServiceError
from asyncua.crypto.permission_rules import USER_TYPES, PermissionRuleset, User, UserRole
from asyncua.server.user_managers import UserManager
from asyncua.ua.ua_binary import struct_from_binary
from cryptography import x509
from cryptography.hazmat.primitives.serialization import Encoding

from inspect_app.config_opcua import OpcUaConfig
from inspect_app.passwords import verify_password
from plc.pki import PkiStore

log = logging.getLogger(__name__)

ROLE_RANK = {"observer": 0, "operator": 1, "engineer": 2}
UNSECURED_LABEL = "None (unsecured, loopback only)"

POLICY_TYPES = {
    "None": ua.SecurityPolicyType.NoSecurity,
    "Basic256Sha256": ua.SecurityPolicyType.Basic256Sha256_SignAndEncrypt,
    "Aes256Sha256RsaPss": ua.SecurityPolicyType.Aes256Sha256RsaPss_SignAndEncrypt,
    "Aes128Sha256RsaOaep": ua.SecurityPolicyType.Aes128Sha256RsaOaep_SignAndEncrypt,
}

_WRITE = ua.NodeId(ua.ObjectIds.WriteRequest_Encoding_DefaultBinary)
_CALL = ua.NodeId(ua.ObjectIds.CallRequest_Encoding_DefaultBinary)
_USER_REQUESTS = frozenset(ua.NodeId(t) for t in USER_TYPES)

# The user of the request being processed. asyncua handles one connection's requests one after another in one
# task, and checks permissions right before running the request, so a method handler reads here who called it.
current_user: contextvars.ContextVar[StationUser | None] = contextvars.ContextVar("opcua_user", default=None)


@dataclass
class StationUser(User):
    app_role: str = "observer"

    @property
    def label(self) -> str:
        return f"{self.name or 'anonymous'} ({self.app_role})"


def has_role(user: User | None, role: str) -> bool:
    app_role = getattr(user, "app_role", None)
    return app_role is not None and ROLE_RANK[app_role] >= ROLE_RANK[role]


class ConfigUserManager(UserManager):
    """Users from ``[opcua.users]``; anonymous only when the config allows it (loopback only)."""

    def __init__(self, cfg: OpcUaConfig) -> None:
        self.cfg = cfg

    def get_user(
        self, iserver: Any, username: str | None = None, password: str | None = None, certificate: Any = None
    ) -> User | None:
        if username is None:
            if self.cfg.allow_anonymous:
                return StationUser(role=UserRole.User, name=None, app_role=self.cfg.anonymous_role)
            log.warning("OPC UA: anonymous login refused")
            return None
        entry = self.cfg.users.get(username)
        if entry is None or not verify_password(password or "", entry.password_hash):
            log.warning("OPC UA: login refused for user %r (unknown user or wrong password)", username)
            return None
        return StationUser(role=UserRole.User, name=username, app_role=entry.role)


class RolePermissions(PermissionRuleset):
    """``writable``/``methods``: node id -> the least role allowed to write it / call it. A Write to any
    other node is refused; a Call to any other method (the standard Server methods) needs observer."""

    def __init__(self, writable: dict[ua.NodeId, str], methods: dict[ua.NodeId, str]) -> None:
        self.writable = writable
        self.methods = methods

    def check_validity(self, user: Any, action_type_id: ua.NodeId, body: Any) -> bool:
        current_user.set(user if isinstance(user, StationUser) else None)
        if action_type_id not in _USER_REQUESTS or not isinstance(user, StationUser):
            log.warning("OPC UA: %s refused request %s", getattr(user, "name", user), action_type_id)
            return False
        if action_type_id == _WRITE:
            # a shadow copy: the request's own buffer must stay where it is for the real decoding
            params = struct_from_binary(ua.WriteParameters, body.copy())
            for item in params.NodesToWrite:
                need = self.writable.get(item.NodeId) if item.AttributeId == ua.AttributeIds.Value else None
                if need is None or not has_role(user, need):
                    log.warning(
                        "OPC UA: %s may not write %s (needs %s)", user.label, item.NodeId, need or "-"
                    )
                    return False
        elif action_type_id == _CALL:
            params = struct_from_binary(ua.CallParameters, body.copy())
            for call in params.MethodsToCall:
                need = self.methods.get(call.MethodId, "observer")
                if not has_role(user, need):
                    log.warning("OPC UA: %s may not call %s (needs %s)", user.label, call.MethodId, need)
                    return False
        return True


def pki_validator(pki: PkiStore) -> Callable[[x509.Certificate, ua.ApplicationDescription], Awaitable[None]]:
    """asyncua's CreateSession certificate check, answered by the station's PKI store (the channel's
    certificate is checked before that by plc.channel_guard, against the same store)."""

    async def validate(cert: x509.Certificate, app: ua.ApplicationDescription) -> None:
        status = pki.check(cert.public_bytes(Encoding.DER), app.ApplicationUri)
        if status is not None:
            raise ServiceError(getattr(ua.StatusCodes, status))

    return validate


def security_mode(cfg: OpcUaConfig) -> str:
    """The policies in use, as "Policy/Mode" ("None" when unsecured), for machines (the window's light)."""
    policies = [cfg.client.security] if cfg.mode == "client" else cfg.security
    return " + ".join("None" if p == "None" else f"{p}/SignAndEncrypt" for p in policies)


def describe_security(cfg: OpcUaConfig) -> str:
    """What the UI shows about the link's security."""
    if cfg.mode == "client":
        pol = cfg.client.security
        return UNSECURED_LABEL if pol == "None" else f"{pol} SignAndEncrypt (client)"
    if "None" in cfg.security:
        return UNSECURED_LABEL
    anon = "anonymous allowed" if cfg.allow_anonymous else "no anonymous"
    return f"{' + '.join(cfg.security)} SignAndEncrypt; {len(cfg.users)} user(s), {anon}"
