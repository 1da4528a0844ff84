"""Checks asyncua's server leaves out, made where each connection's messages are processed.

asyncua 2.1 (``asyncua/server/uaprocessor.py``, ``internal_session.py``) validates only the certificate a
client sends in CreateSession, and only when it is not empty; the certificate that opened the secure channel
(the one whose key actually encrypts and signs the traffic) is never looked at. A client with an untrusted
certificate could therefore open a SignAndEncrypt channel and send CreateSession with no certificate, or with
a trusted client's *public* certificate, and log in. It also answers CreateSession and ActivateSession on a
SecurityPolicy None channel even when None is not offered, so passwords could travel in clear and be tested.

:class:`GuardedProcessor` (a :class:`UaProcessor` per connection) closes these:

* OpenSecureChannel with a secured policy: the channel's certificate must pass the PKI store (trusted, valid,
  client key usages, not revoked); otherwise an Error message with the status, the certificate is filed in
  ``rejected/certs``, and the connection is closed. Nothing else is decrypted for it.
* CreateSession on a secured channel: ClientCertificate must be present and be the channel's certificate;
  the application URI is checked against it. ActivateSession of an existing session from another channel
  must come from the same certificate.
* On a SecurityPolicy None channel, when security is on: only GetEndpoints and FindServers (discovery, which
  clients do over None before choosing a secured endpoint); every other service gets
  BadSecurityModeInsufficient.
* Failed logins: logged with the remote address and limited per address (:class:`LoginLimiter`).

The subclasses rely on asyncua 2.1's internals (``UaProcessor.process``/``_process_message``,
``OPCUAProtocol.connection_made``, ``Server.start``); ``tests/plc/test_plc_channel_guard.py`` pins the
version and shows the gap on a plain asyncua server, so an upgrade is reviewed before it is trusted.
"""

from __future__ import annotations

import logging
import time
import weakref
from typing import Any

from asyncua import ua
from asyncua.common.utils import ServiceError
from asyncua.crypto.security_policies import SecurityPolicyNone
from asyncua.server.binary_server_asyncio import BinaryServer, OPCUAProtocol
from asyncua.server.internal_session import InternalSession
from asyncua.server.uaprocessor import UaProcessor
from asyncua.ua.ua_binary import struct_from_binary, uatcp_to_binary

from plc.login_limiter import LoginLimiter
from plc.pki import PkiStore, leaf_der

log = logging.getLogger(__name__)

_ID = ua.ObjectIds
DISCOVERY = frozenset(
    ua.NodeId(t)
    for t in (_ID.GetEndpointsRequest_Encoding_DefaultBinary, _ID.FindServersRequest_Encoding_DefaultBinary)
)
CREATE_SESSION = ua.NodeId(_ID.CreateSessionRequest_Encoding_DefaultBinary)
ACTIVATE_SESSION = ua.NodeId(_ID.ActivateSessionRequest_Encoding_DefaultBinary)
CLOSE_CHANNEL = ua.NodeId(_ID.CloseSecureChannelRequest_Encoding_DefaultBinary)
LOGIN_FAILURES = frozenset(
    getattr(ua.StatusCodes, n)
    for n in ("BadUserAccessDenied", "BadIdentityTokenRejected", "BadIdentityTokenInvalid")
)


def _status(name: str) -> int:
    return int(getattr(ua.StatusCodes, name))


class ChannelGuard:
    """What the processors of one server share: the PKI, whether security is on, the login limiter, and the
    certificate each session was created with."""

    def __init__(self, pki: PkiStore | None, secured: bool, limiter: LoginLimiter | None = None) -> None:
        self.pki = pki
        self.secured = secured  # SecurityPolicy None is not offered: nothing may be served in clear
        self.limiter = limiter or LoginLimiter()
        self._session_certs: weakref.WeakKeyDictionary[InternalSession, bytes] = weakref.WeakKeyDictionary()
        self._last_log: dict[str, float] = {}
        self._checked_generation = pki.generation if pki else 0

    def warn_limited(self, key: str, msg: str, *args: object, every_s: float = 10.0) -> None:
        """A warning at most once per ``every_s`` per key: refusals repeated by a misconfigured or hostile
        client must not flood the station log."""
        now = time.monotonic()
        if now - self._last_log.get(key, -1e9) >= every_s:
            self._last_log[key] = now
            if len(self._last_log) > 10_000:
                self._last_log.clear()
            log.warning(msg, *args)

    def channel_refusal(self, policy_uri: str, sender_certificate: bytes | None, peer: str) -> str | None:
        """OpenSecureChannel: the status that refuses it, or None. A None channel may open (discovery);
        what it may do is decided per request."""
        if policy_uri == SecurityPolicyNone.URI:
            return None
        if self.pki is None:
            return None  # secured policies without a trust store are refused by the config already
        if not sender_certificate:
            return "BadCertificateInvalid"
        self.pki.refresh()
        status = self.pki.check(leaf_der(sender_certificate))
        if status is not None:
            filed = self.pki.reject(leaf_der(sender_certificate))
            self.warn_limited(
                f"channel:{peer}:{status}",
                "OPC UA: secure channel from %s refused, %s%s",
                peer,
                status,
                f"; certificate filed as {filed} (move it to trusted/certs to trust it)" if filed else "",
            )
        return status

    def session_refusal(
        self, channel_certificate: bytes | None, params: ua.CreateSessionParameters
    ) -> str | None:
        """CreateSession on a secured channel: its certificate must be the channel's own."""
        if not params.ClientCertificate:
            return "BadCertificateInvalid"
        if channel_certificate is None or leaf_der(params.ClientCertificate) != leaf_der(channel_certificate):
            return "BadCertificateInvalid"
        if self.pki is not None:
            return self.pki.check(leaf_der(channel_certificate), params.ClientDescription.ApplicationUri)
        return None

    def bind(self, session: InternalSession, certificate: bytes | None) -> None:
        self._session_certs[session] = leaf_der(certificate or b"")

    def bound_certificate(self, session: InternalSession) -> bytes | None:
        return self._session_certs.get(session)

    def revalidate(self, clients: list[OPCUAProtocol]) -> None:
        """After a PKI change: close the connections whose channel certificate is no longer acceptable
        (removed from trusted/, revoked by a new CRL), so revocation needs no restart."""
        if self.pki is None:
            return
        self.pki.refresh()
        if self.pki.generation == self._checked_generation:
            return
        self._checked_generation = self.pki.generation
        for proto in list(clients):
            processor = proto.processor
            cert = processor._connection.security_policy.peer_certificate if processor else None
            if not cert:
                continue
            status = self.pki.check(leaf_der(cert))
            if status is not None and proto.transport is not None:
                log.warning(
                    "OPC UA: closing the connection from %s: its certificate is now %s",
                    proto.peer_name,
                    status,
                )
                proto.transport.close()


class GuardedProcessor(UaProcessor):
    def __init__(self, iserver: Any, transport: Any, limits: Any, guard: ChannelGuard) -> None:
        super().__init__(iserver, transport, limits)
        self.guard = guard
        self.peer = f"{self.name[0]}:{self.name[1]}" if isinstance(self.name, tuple) else str(self.name)
        self.address = self.name[0] if isinstance(self.name, tuple) else str(self.name)

    async def process(self, header: Any, body: Any) -> bool:
        if header.MessageType == ua.MessageType.SecureOpen and not self._connection.is_open():
            # the asymmetric header is in clear: the certificate is checked before anything is decrypted
            algo = struct_from_binary(ua.AsymmetricAlgorithmHeader, body.copy(header.body_size))
            status = self.guard.channel_refusal(algo.SecurityPolicyURI, algo.SenderCertificate, self.peer)
            if status is not None:
                err = ua.ErrorMessage(ua.StatusCode(_status(status)), f"{status}: secure channel refused")
                self._transport.write(uatcp_to_binary(ua.MessageType.Error, err))
                return False  # the caller closes the connection
        return await super().process(header, body)

    async def _process_message(self, typeid: ua.NodeId, requesthdr: Any, seqhdr: Any, body: Any) -> Any:
        policy = self._connection.security_policy
        if policy.URI == SecurityPolicyNone.URI and self.guard.secured:
            if typeid not in DISCOVERY and typeid != CLOSE_CHANNEL:
                self.guard.warn_limited(
                    f"none:{self.address}",
                    "OPC UA: %s asked for service %s on an unsecured channel; refused (security policy None "
                    "is off: only GetEndpoints/FindServers are answered there)",
                    self.peer,
                    typeid,
                )
                return self._refuse(requesthdr, seqhdr, "BadSecurityModeInsufficient")
            return await super()._process_message(typeid, requesthdr, seqhdr, body)
        if policy.URI != SecurityPolicyNone.URI and typeid == CREATE_SESSION:
            params = struct_from_binary(ua.CreateSessionParameters, body.copy())
            status = self.guard.session_refusal(policy.peer_certificate, params)
            if status is not None:
                self.guard.warn_limited(
                    f"session:{self.address}:{status}",
                    "OPC UA: CreateSession from %s refused, %s (its ClientCertificate must be the "
                    "certificate of its secure channel)",
                    self.peer,
                    status,
                )
                return self._refuse(requesthdr, seqhdr, status)
            out = await super()._process_message(typeid, requesthdr, seqhdr, body)
            if self.session is not None:
                self.guard.bind(self.session, policy.peer_certificate)
            return out
        if typeid == ACTIVATE_SESSION:
            return await self._activate(typeid, requesthdr, seqhdr, body)
        return await super()._process_message(typeid, requesthdr, seqhdr, body)

    def _refuse(self, requesthdr: Any, seqhdr: Any, status: str) -> bool:
        """A ServiceFault sent here rather than raised: asyncua would log every refusal at ERROR."""
        response = ua.ServiceFault()
        response.ResponseHeader.ServiceResult = ua.StatusCode(_status(status))
        self.send_response(requesthdr.RequestHandle, seqhdr, response)
        return True

    async def _activate(self, typeid: ua.NodeId, requesthdr: Any, seqhdr: Any, body: Any) -> Any:
        limiter = self.guard.limiter
        left = limiter.blocked_for(self.address)
        if left > 0:
            if limiter.first_refusal_of_block(self.address):
                log.warning(
                    "OPC UA: logins from %s refused without checking for %.0fs more (%d failed logins)",
                    self.address,
                    left,
                    limiter.failures(self.address),
                )
            return self._refuse(requesthdr, seqhdr, "BadUserAccessDenied")
        if self.session is None:
            # another channel takes over an existing session (asyncua's reconnect, found by its guessable
            # authentication token): it must hold the certificate the session was created with
            existing = self.iserver.lookup_external_session(requesthdr.AuthenticationToken)
            bound = self.guard.bound_certificate(existing) if existing is not None else None
            channel_cert = leaf_der(self._connection.security_policy.peer_certificate or b"")
            if bound and bound != channel_cert:
                log.warning(
                    "OPC UA: %s tried to activate a session created with another certificate", self.peer
                )
                return self._refuse(requesthdr, seqhdr, "BadSecurityChecksFailed")
        try:
            out = await super()._process_message(typeid, requesthdr, seqhdr, body)
        except (ServiceError, ua.UaStatusCodeError) as exc:
            if exc.code in LOGIN_FAILURES:
                block = limiter.failed(self.address)
                name = ua.StatusCode(exc.code).name
                if block:
                    log.warning(
                        "OPC UA: login from %s failed (%s), %d in a row: logins from there refused for %.0fs",
                        self.peer,
                        name,
                        limiter.failures(self.address),
                        block,
                    )
                else:
                    log.warning("OPC UA: login from %s failed (%s)", self.peer, name)
            raise
        if self.session is not None and self.session.is_activated():
            limiter.succeeded(self.address)
        return out


class GuardedProtocol(OPCUAProtocol):
    guard: ChannelGuard

    def connection_made(self, transport: Any) -> None:
        super().connection_made(transport)
        if self.processor is not None:  # None: refused at max_connections
            # swapped before the first message: the processing task reads self.processor per message
            self.processor = GuardedProcessor(self.iserver, self.transport, self.limits, self.guard)
            self.processor.set_policies(self.policies)


class GuardedBinaryServer(BinaryServer):
    def __init__(self, *args: Any, guard: ChannelGuard, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.guard = guard

    def _make_protocol(self) -> OPCUAProtocol:
        proto = GuardedProtocol(
            iserver=self.iserver,
            policies=self._policies,
            clients=self.clients,
            closing_tasks=self.closing_tasks,
            limits=self.limits,
        )
        proto.guard = self.guard
        return proto
