"""The asyncua server the station embeds: asyncua's own, with the connection checks of
:mod:`plc.channel_guard`, value checks on writes, the trust store watched while it runs, and handshake
steps published as one notification.

``Server.start`` is asyncua 2.1's, with :class:`GuardedBinaryServer` in place of ``BinaryServer`` (asyncua
builds the socket server inside ``start`` and offers no hook for the per-connection processor).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket
from collections.abc import AsyncIterator, Callable

from asyncua import Server, ua
from asyncua.crypto import uacrypto
from asyncua.crypto.permission_rules import User
from asyncua.server.address_space import AttributeService

from plc.channel_guard import ChannelGuard, GuardedBinaryServer
from plc.security import ConfigUserManager

log = logging.getLogger(__name__)


async def _publish_later() -> None:
    """Stands in for a subscription's immediate publish inside GuardedServer.one_notification."""

# a write's new value -> None to accept it, or the name of the Bad status code that refuses it
WriteCheck = Callable[[ua.DataValue], str | None]
PKI_POLL_S = 1.0


class CheckedWrites:
    """asyncua's attribute service, with per-node checks of written values made *before* anything is
    written: a refused value never reaches the node, its subscribers or the PostWrite callbacks' world, and
    the client gets the Bad status for that item (the other items of the request are written)."""

    def __init__(self, inner: AttributeService, checks: dict[ua.NodeId, WriteCheck]) -> None:
        self.inner = inner
        self.checks = checks

    def read(self, params: ua.ReadParameters) -> list[ua.DataValue]:
        return self.inner.read(params)

    async def write(self, params: ua.WriteParameters, user: User) -> list[ua.StatusCode]:
        refused: list[ua.StatusCode | None] = []
        for item in params.NodesToWrite:
            check = self.checks.get(item.NodeId) if item.AttributeId == ua.AttributeIds.Value else None
            status = check(item.Value) if check is not None else None
            refused.append(ua.StatusCode(getattr(ua.StatusCodes, status)) if status else None)
        if not any(refused):
            return await self.inner.write(params, user=user)
        passed = [item for item, r in zip(params.NodesToWrite, refused, strict=True) if r is None]
        written = iter(
            await self.inner.write(ua.WriteParameters(NodesToWrite=passed), user=user) if passed else []
        )
        return [r if r is not None else next(written) for r in refused]


class GuardedServer(Server):
    def __init__(self, user_manager: ConfigUserManager, guard: ChannelGuard) -> None:
        super().__init__(user_manager=user_manager)
        self.guard = guard
        self.write_checks: dict[ua.NodeId, WriteCheck] = {}
        self.iserver.attribute_service = CheckedWrites(self.iserver.attribute_service, self.write_checks)  # type: ignore[assignment]
        self._pki_task: asyncio.Task[None] | None = None
        self.batch_notifications = True  # False: asyncua's own behaviour (the benchmark compares both)

    async def start(self) -> None:
        # asyncua 2.1's Server.start, with the guarded socket server
        if self.iserver.certificate is not None:
            uacrypto.check_certificate(self.iserver.certificate, self._application_uri, socket.gethostname())
        await self._setup_server_nodes()
        await self.iserver.start()
        try:
            host, port = self._get_bind_socket_info()
            self.bserver = GuardedBinaryServer(self.iserver, host, port, self.limits, guard=self.guard)
            self.bserver.set_policies(self._policies)
            await self.bserver.start()
        except Exception:
            await self.iserver.stop()
            raise
        if self.guard.pki is not None:
            self._pki_task = asyncio.create_task(self._watch_pki())

    async def stop(self) -> None:
        if self._pki_task is not None:
            self._pki_task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._pki_task
        await super().stop()

    @contextlib.asynccontextmanager
    async def one_notification(self) -> AsyncIterator[None]:
        """The value changes written in the block reach each subscriber in one Publish response.

        A subscription with publishing interval 0 ("as fast as possible", what PLCs ask for) publishes at
        the *first* changed item, and a client has one Publish request outstanding at a time (asyncua's
        does), so the items written after it (ResultValid last of all) wait for the client's next request:
        a full extra round trip per handshake step. Here the immediate publish is held during the block
        and made once at its end (asyncua 2.1: ``InternalSubscription._trigger_publish``, shadowed per
        instance; subscriptions with a publishing interval keep their own rhythm)."""
        held = []
        subscriptions = self.iserver.subscription_service.subscriptions if self.batch_notifications else {}
        for sub in list(subscriptions.values()):
            if sub.data.RevisedPublishingInterval <= 0 and "_trigger_publish" not in vars(sub):
                sub._trigger_publish = _publish_later  # type: ignore[method-assign]
                held.append(sub)
        try:
            yield
        finally:
            for sub in held:
                del sub._trigger_publish
                await sub._trigger_publish()

    async def _watch_pki(self) -> None:
        """Between channels too: a certificate removed from trusted/ or revoked ends its live sessions."""
        while True:
            await asyncio.sleep(PKI_POLL_S)
            try:
                if self.bserver is not None:
                    self.guard.revalidate(self.bserver.clients)
            except OSError as exc:  # an unreadable trust folder must not end the watch
                log.warning("OPC UA PKI check failed: %s", exc)
