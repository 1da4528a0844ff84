"""Client mode: the station writes its results into the PLC's own OPC UA server.

Every committed result goes to the persistent outbox (plc.outbox) first, then is delivered in order with a
four-phase handshake on the PLC's tags (plc.delivery): result tags + ResultSeq, then ResultValid; the PLC sets
Ack (and its retentive AckSeq); the station clears ResultValid and waits for Ack to drop before the next one.
After every (re)connect delivery resumes from the tags it *reads* on the PLC, never from what it remembers,
so whatever a cut left there resolves. Results committed before the link started are taken from results.db
(plc.backlog). Optional Trigger/PartId tags let the PLC trigger inspections, gated like the server's flat
handshake.

The link is watched with a short keep-alive (``keepalive_s``) and a 30 s session timeout, so a dead PLC is
noticed in seconds, not after asyncua's default hour; on loss the client reconnects with backoff, tells the
PLC which parts went unsignalled (UnsignalledCount/UnsignalledParts, FaultCode LINK_LOST, which clears once
those results are delivered), drains the outbox.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import sqlite3
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from asyncua import Client, Node, ua

from inspect_app.config import StationConfig
from inspect_app.state import StationState
from inspect_app.types import CommittedInspection
from plc.backlog import committed_after, newest_id, process_start_epoch
from plc.delivery import Phase, PlcView, resume, taken
from plc.handshake import Changes, FaultCode, FlatHandshake, station_fault_text
from plc.link import LinkStartError
from plc.loop_thread import LoopThread
from plc.outbox import Outbox
from plc.security import describe_security, security_mode

if TYPE_CHECKING:
    from inspect_app.station import Station

log = logging.getLogger(__name__)

_LINK_ERRORS = (OSError, asyncio.TimeoutError, ConnectionError, ua.UaError)
# handshake output name -> ClientNodeIds field
_OUTPUT_NODES = {
    "Busy": "busy",
    "Ready": "ready",
    "Fault": "fault",
    "FaultCode": "fault_code",
    "Heartbeat": "heartbeat",
}


class _Watch:
    """Subscription handler: latest values of the PLC's inputs, and an event per change."""

    def __init__(self, link: PlcClientLink) -> None:
        self.link = link
        self.values: dict[str, Any] = {}
        self.names: dict[ua.NodeId, str] = {}
        self.changed = asyncio.Event()

    def datachange_notification(self, node: Node, val: Any, data: Any) -> None:
        name = self.names.get(node.nodeid)
        if name is None:
            return
        self.values[name] = val
        self.changed.set()
        if name == "trigger":
            self.link._trigger_changed(bool(val))

    def status_change_notification(self, status: Any) -> None:
        # the subscription died with the link; the supervisor reconnects and subscribes again
        log.debug("subscription status change: %s", status)


class PlcClientLink:
    name = "opcua"

    def __init__(self, cfg: StationConfig) -> None:
        self.cfg = cfg
        self.opc = cfg.opcua
        self.ccfg = cfg.opcua.client
        self.nodes = self.ccfg.nodes
        self.station: Station | None = None
        self.outbox: Outbox | None = None
        self.hs: FlatHandshake | None = None
        self.connected = False
        self._was_up = False  # connected at least once since start: later results may miss their cycle
        self.delivered = 0
        self.last_error = ""
        self._lt: LoopThread | None = None
        self._stopping = False
        self._client: Client | None = None
        self._watch: _Watch | None = None
        self._types: dict[str, ua.VariantType] = {}
        self._wake: asyncio.Event | None = None
        self._lost: asyncio.Event | None = None
        self._outputs_due: asyncio.Event | None = None
        self._task: asyncio.Task[None] | None = None
        self._pending_writes: Changes = []

    # ------------------------------------------------------------------ lifecycle (station thread)
    def start(self, station: Station) -> None:
        self.station = station
        try:
            self.outbox = Outbox(self.cfg.state_dir / self.ccfg.outbox_db)
        except sqlite3.Error as exc:
            raise LinkStartError(f"outbox {self.cfg.state_dir / self.ccfg.outbox_db}: {exc}") from exc
        self.hs = FlatHandshake(
            lambda part: station.trigger(part, source="external"),
            ack_timeout_s=self.opc.handshake.ack_timeout_s,
            on_missed=lambda part, code, why: station.record_missed(part, code, why),
            hold_until_ack=False,
        )
        high_water = self.outbox.high_water()
        # the listener first, the backlog second: a result committed in between is in both, and queued once
        station.add_result_listener(self._on_result)
        self._take_backlog(high_water)
        self._wake, self._lost, self._outputs_due = asyncio.Event(), asyncio.Event(), asyncio.Event()
        self._lt = LoopThread("opcua-client")
        self._lt.start()
        self._lt.run(self._astart(), timeout=5)
        station.add_watch(self._lt.watch())  # the supervisor sees this loop die or stop turning
        if self.ccfg.security == "None":
            log.warning(
                "OPC UA client to %s is UNSECURED (security policy None, loopback only)", self.ccfg.server_url
            )
        log.info(
            "OPC UA client mode: results go to %s; outbox %s (%d waiting)",
            self.ccfg.server_url,
            self.outbox.path,
            self.outbox.pending_count(),
        )

    def stop(self) -> None:
        if self._lt is None or self._stopping:
            return
        self._stopping = True
        try:
            self._lt.run(self._astop(), timeout=10)
        except TimeoutError as exc:
            log.warning("OPC UA client did not stop cleanly: %s", exc)
        self._lt.stop()
        # the outbox stays open: results the station flushes while it stops are still queued for next time

    def status(self) -> dict[str, Any]:
        waiting = self.outbox.pending_count() if self.outbox else 0
        state = "connected" if self.connected else f"disconnected ({self.last_error or 'connecting'})"
        fault = self.hs.fault.code if self.hs else FaultCode.NONE
        return {
            "connected": self.connected,
            "security": describe_security(self.opc),
            "secured": self.opc.secured,
            "security_mode": security_mode(self.opc),
            "faults": [fault.name] if fault != FaultCode.NONE else [],
            "detail": f"OPC UA client to {self.ccfg.server_url}: {state}; {waiting} result(s) in outbox",
            "mode": "client",
            "outbox": waiting,
            "delivered": self.delivered,
            "missed_triggers": self.hs.missed if self.hs else 0,
        }

    def _take_backlog(self, high_water: int | None) -> None:
        """Results committed before the listener existed (plc.backlog), queued in the outbox by sequence."""
        assert self.outbox
        db = self.cfg.state_dir / self.cfg.store.db
        if high_water is not None and newest_id(db) < high_water:
            # the outbox's sequences are ids of a results.db that is gone: they would hide the new ids
            log.warning(
                "outbox %s refers to results up to id %d, but %s ends below it (replaced?): outbox emptied",
                self.outbox.path,
                high_water,
                db,
            )
            self.outbox.forget_all()
            high_water = None
        rows = committed_after(db, high_water, process_start_epoch())
        added = sum(self.outbox.add_row(row) for row in rows)
        if added:
            log.info("OPC UA client: %d result(s) committed before the link started are queued", added)

    # ------------------------------------------------------------------ station side (signal thread)
    def _on_result(self, committed: CommittedInspection) -> None:
        if self.outbox is None:
            return
        # "unsignalled" (the PLC is told, LINK_LOST) only for a link that was up and was lost: results
        # before the first connection, or while the link stops, are just queued
        lost = self._was_up and not self.connected and not self._stopping
        self.outbox.add(committed, link_up=not lost)  # persisted before anything else can go wrong
        if not self._stopping and self._lt is not None:
            self._lt.call_soon(self._result_in_loop, committed)

    def _result_in_loop(self, committed: CommittedInspection) -> None:
        assert self.hs and self._wake
        self._pending_writes += self.hs.on_result(committed, self._accepting())
        self._wake.set()
        if self._outputs_due:
            self._outputs_due.set()

    def _accepting(self) -> bool:
        st = self.station.state if self.station else StationState.HALTED
        return not self._stopping and (st.operational or st == StationState.ERROR)

    # ------------------------------------------------------------------ loop side
    async def _astart(self) -> None:
        self._task = asyncio.create_task(self._supervise())

    async def _astop(self) -> None:
        if self._task:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)

    def _make_client(self) -> Client:
        c = self.ccfg
        client = Client(c.server_url, timeout=c.request_timeout_s, watchdog_intervall=c.keepalive_s)
        client.session_timeout = int(c.session_timeout_s * 1000)
        client.application_uri = self.opc.application_uri
        client.name = client.description = f"inspect-app {self.cfg.station.name}"
        if c.username:
            client.set_user(c.username)
            client.set_password(os.environ.get(c.password_env, ""))

        async def lost(exc: Exception) -> None:
            log.warning("OPC UA link to %s lost: %r", c.server_url, exc)
            assert self._lost
            self._lost.set()

        client.connection_lost_callback = lost
        return client

    async def _supervise(self) -> None:
        delay = self.ccfg.reconnect_min_s
        while not self._stopping:
            assert self._lost
            self._lost.clear()
            client = self._make_client()
            try:
                if self.ccfg.security != "None":
                    await client.set_security_string(
                        f"{self.ccfg.security},SignAndEncrypt,{self.opc.certificate},{self.opc.private_key}"
                        + (f",{self.ccfg.server_certificate}" if self.ccfg.server_certificate else "")
                    )
                await asyncio.wait_for(client.connect(), timeout=self.ccfg.request_timeout_s * 3)
                self._client = client
                await self._on_connected(client)
                self.connected, delay, self.last_error = True, self.ccfg.reconnect_min_s, ""
                self._was_up = True
                log.info("OPC UA link to %s up", self.ccfg.server_url)
                await self._run_connected(client)
            except _LINK_ERRORS as exc:
                self.last_error = f"{type(exc).__name__}: {exc}"[:200]
                log.info(
                    "OPC UA link to %s: %s; retry in %.1fs", self.ccfg.server_url, self.last_error, delay
                )
            finally:
                if self.connected and self.outbox and not self._stopping:
                    n = self.outbox.mark_pending_unsignalled()
                    log.warning("OPC UA link down: %d result(s) not signalled in their cycle", n)
                self.connected = False
                self._client = None
                await self._close(client)
            if not self._stopping:
                await asyncio.sleep(delay)
                delay = min(delay * 2, self.ccfg.reconnect_max_s)

    async def _close(self, client: Client) -> None:
        try:
            await asyncio.wait_for(client.disconnect(), timeout=2)
        except (*_LINK_ERRORS, asyncio.CancelledError, RuntimeError):
            log.debug("disconnect after link loss failed (expected)")

    async def _on_connected(self, client: Client) -> None:
        assert self.outbox
        self._types = {}
        for field in type(self.nodes).model_fields:
            nodeid = getattr(self.nodes, field)
            if nodeid is not None:
                self._types[field] = await client.get_node(nodeid).read_data_type_as_variant_type()
        self._watch = _Watch(self)
        watched = [f for f in ("trigger", "ack", "ack_seq") if getattr(self.nodes, f)]
        sub = await client.create_subscription(self.ccfg.publishing_interval_ms, self._watch)
        for field in watched:
            node = client.get_node(getattr(self.nodes, field))
            self._watch.names[node.nodeid] = field
            self._watch.values[field] = await node.read_value()
        await sub.subscribe_data_change([client.get_node(getattr(self.nodes, f)) for f in watched])
        # a restarted PLC has lost what we wrote: write every output again on the next tick
        self.hs.forget_outputs()
        self._pending_writes += [("Busy", self.hs.pending is not None)] + (
            self.hs.raise_fault(self.hs.fault.code, self.hs.fault.text) if self.hs.fault.code else []
        )
        await self._report_unsignalled(client)

    async def _report_unsignalled(self, client: Client) -> None:
        assert self.outbox and self.hs
        missed = self.outbox.unreported_unsignalled()
        if not missed:
            return
        keep = self.ccfg.unsignalled_keep
        parts = [e.part_id for e in missed][-keep:]
        await self._write(
            client, [("unsignalled_count", self.outbox.unsignalled_total()), ("unsignalled_parts", parts)]
        )
        text = f"{len(missed)} result(s) produced while the link was down; last part {parts[-1]}"
        await self._write_outputs(client, self.hs.raise_fault(FaultCode.LINK_LOST, text))
        self.outbox.mark_reported([e.seq for e in missed])
        log.warning("told the PLC: %s", text)

    async def _run_connected(self, client: Client) -> None:
        """Outputs (Heartbeat, Busy, Ready, Fault) and result delivery run side by side, so a PLC slow to Ack
        never stops the heartbeat; the first to fail ends the connection."""
        tasks = [
            asyncio.create_task(self._outputs_loop(client)),
            asyncio.create_task(self._delivery_loop(client)),
        ]
        try:
            done, _ = await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
            for task in done:
                task.result()  # re-raises the link error
        finally:
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)

    async def _outputs_loop(self, client: Client) -> None:
        assert self._outputs_due and self._lost and self.station and self.hs
        while not self._stopping:
            if self._lost.is_set():
                raise ConnectionError("keep-alive failed")
            writes, self._pending_writes = self._pending_writes, []
            err = station_fault_text(self.station)
            writes += self.hs.tick(self._accepting(), err)
            writes.append(("Heartbeat", self.station.heartbeat % 2**32))
            await self._write_outputs(client, writes)
            self._outputs_due.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(
                    self._outputs_due.wait(), timeout=self.opc.handshake.heartbeat_period_s
                )

    async def _read_view(self, client: Client) -> PlcView:
        fields = [f for f in ("result_valid", "ack", "ack_seq", "result_seq") if getattr(self.nodes, f)]
        values = dict(
            zip(
                fields,
                await client.read_values([client.get_node(getattr(self.nodes, f)) for f in fields]),
                strict=True,
            )
        )

        def number(field: str) -> int | None:
            return int(values[field] or 0) if field in values else None

        return PlcView(
            bool(values["result_valid"]), bool(values["ack"]), number("ack_seq"), number("result_seq")
        )

    def _watched_view(self) -> PlcView:
        assert self._watch
        seq = self._watch.values.get("ack_seq")
        has_seq = bool(self.nodes.ack_seq)
        return PlcView(False, bool(self._watch.values.get("ack")), int(seq or 0) if has_seq else None)

    async def _delivery_loop(self, client: Client) -> None:
        """plc.delivery's phases, starting from the PLC's tags as they are now."""
        assert self.outbox and self._wake and self._lost
        head = self.outbox.pending(limit=1)
        view = await self._read_view(client)
        start = resume(view, head[0].seq if head else None)
        if start.phase != Phase.IDLE or start.clear_result_valid:
            log.info("OPC UA client: resuming delivery: %s (%s)", start.phase.value, start.why)
        if start.delivered_up_to is not None:
            self._delivered(self.outbox.mark_delivered(start.delivered_up_to, sent_only=True))
        if start.clear_result_valid:
            await self._write(client, [("result_valid", False)])
        phase, seq = start.phase, start.seq
        while not self._stopping:
            if self._lost.is_set():
                raise ConnectionError("keep-alive failed")
            await self._clear_link_lost_when_caught_up(client)
            if phase == Phase.IDLE:
                head = self.outbox.pending(limit=1)
                if not head:
                    self._wake.clear()
                    with contextlib.suppress(TimeoutError):
                        await asyncio.wait_for(
                            self._wake.wait(), timeout=self.opc.handshake.heartbeat_period_s
                        )
                    continue
                entry = head[0]
                self.outbox.mark_sent(entry.seq)
                await self._write(
                    client,
                    [
                        ("result_pass", entry.result_code == 1),
                        ("result_fail", entry.result_code == 2),
                        ("result_code", entry.result_code),
                        ("result_part_id", entry.part_id),
                        ("result_seq", entry.seq),
                        ("result_valid", True),
                    ],
                )
                phase, seq = Phase.AWAIT_ACK, entry.seq
            elif phase == Phase.AWAIT_ACK:
                assert seq is not None
                await self._await_plc(lambda v, at=seq: v.ack and taken(v, at), f"Ack of result {seq}")
                self._delivered(self.outbox.mark_delivered(seq))
                await self._write(client, [("result_valid", False)])
                phase, seq = Phase.AWAIT_ACK_DROP, None
            else:
                await self._await_plc(lambda v: not v.ack, "Ack to drop")
                phase = Phase.IDLE

    def _delivered(self, n: int) -> None:
        self.delivered += n

    async def _clear_link_lost_when_caught_up(self, client: Client) -> None:
        """LINK_LOST says "results came late because the link was down"; once the PLC has every one of
        them, it is over (issue 10, point 6: it used to stay latched for good)."""
        assert self.hs and self.outbox
        if self.hs.fault.code == FaultCode.LINK_LOST and self.outbox.unsignalled_pending() == 0:
            log.info(
                "OPC UA client: every result produced while the link was down is delivered: LINK_LOST cleared"
            )
            await self._write_outputs(client, self.hs.clear_fault())

    async def _await_plc(self, done: Callable[[PlcView], bool], what: str) -> None:
        """Wait for the PLC's watched tags to satisfy ``done``; past ack_timeout_s raise ACK_TIMEOUT and keep
        waiting (in-order delivery: nothing overtakes an unacknowledged result)."""
        assert self._watch and self._lost and self.hs
        timed_out = False
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.opc.handshake.ack_timeout_s
        while not done(self._watched_view()):
            if self._lost.is_set() or self._stopping:
                raise ConnectionError(f"link lost while waiting for the PLC's {what}")
            self._watch.changed.clear()
            try:
                await asyncio.wait_for(self._watch.changed.wait(), timeout=max(0.01, deadline - loop.time()))
            except TimeoutError:
                if not timed_out and self._client is not None:
                    timed_out = True
                    text = f"{what} not seen within {self.opc.handshake.ack_timeout_s:g}s"
                    await self._write_outputs(self._client, self.hs.raise_fault(FaultCode.ACK_TIMEOUT, text))
                deadline = loop.time() + 3600
        if timed_out and self._client is not None and self.hs.fault.code == FaultCode.ACK_TIMEOUT:
            await self._write_outputs(self._client, self.hs.clear_fault())

    def _trigger_changed(self, level: bool) -> None:
        """A datachange on the PLC's Trigger (loop thread). PartId is read fresh on a rising edge."""
        if self._client is None or not self.hs:
            return
        if level and not self.hs.trigger_level:
            asyncio.get_running_loop().create_task(self._rising_trigger(self._client))
        else:
            self.hs.on_trigger(level, self._accepting())

    async def _rising_trigger(self, client: Client) -> None:
        assert self.hs
        try:
            if self.nodes.part_id:
                self.hs.set_part_id(str(await client.get_node(self.nodes.part_id).read_value() or ""))
            changes = self.hs.on_trigger(True, self._accepting(), "station not operational")
            await self._write_outputs(client, changes)
            if changes and changes[0][0] == "MissedTriggers":
                log.warning("PLC trigger missed: %s", self.hs.fault.text)
        except _LINK_ERRORS as exc:
            log.warning("trigger from the PLC could not be handled: %r", exc)

    async def _write_outputs(self, client: Client, changes: Changes) -> None:
        pairs = [(_OUTPUT_NODES[k], v) for k, v in changes if k in _OUTPUT_NODES]
        await self._write(client, pairs)

    async def _write(self, client: Client, pairs: list[tuple[str, Any]]) -> None:
        """One Write request for all pairs (field name, value), in order; unset node ids are skipped."""
        nodes, values = [], []
        for field, value in pairs:
            nodeid = getattr(self.nodes, field)
            if nodeid is None:
                continue
            nodes.append(client.get_node(nodeid))
            values.append(ua.DataValue(ua.Variant(value, self._types[field])))
        if nodes:
            await client.write_values(nodes, values)
