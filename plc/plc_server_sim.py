"""A simulated PLC with its own OPC UA server, for the station's client mode (``simulate-plc --mode client``).

It holds the tags the station writes (result tags, ResultValid, Busy, Heartbeat, unsignalled parts) and the
ones the PLC sets (Trigger, PartId, Ack and a retentive AckSeq). On ResultValid it records the result and
acknowledges at once (or after ``ack_delay_s``), writing AckSeq first, as a PLC program would in one scan.
Its record and AckSeq survive :meth:`restart`, like a PLC's retentive memory survives a power cycle, so a test
can cut the link and check that nothing was lost or delivered twice.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from asyncua import Server, ua
from asyncua.common.callback import CallbackType, ServerItemCallback

log = logging.getLogger(__name__)

SIM_NS = "urn:inspect-app:plc-sim"
V = ua.VariantType
TAGS: dict[str, tuple[str, V]] = {  # ClientNodeIds field -> (tag name, type)
    "trigger": ("Trigger", V.Boolean),
    "part_id": ("PartId", V.String),
    "ack": ("Ack", V.Boolean),
    "ack_seq": ("AckSeq", V.Int64),
    "busy": ("Busy", V.Boolean),
    "ready": ("Ready", V.Boolean),
    "result_valid": ("ResultValid", V.Boolean),
    "result_pass": ("Pass", V.Boolean),
    "result_fail": ("Fail", V.Boolean),
    "result_code": ("ResultCode", V.Int16),
    "result_part_id": ("ResultPartId", V.String),
    "result_seq": ("ResultSeq", V.Int64),
    "fault": ("Fault", V.Boolean),
    "fault_code": ("FaultCode", V.Int16),
    "heartbeat": ("Heartbeat", V.UInt32),
    "unsignalled_count": ("UnsignalledCount", V.UInt32),
    "unsignalled_parts": ("UnsignalledParts", V.String),
}


@dataclass
class Received:
    seq: int
    part_id: str
    code: int


@dataclass
class SimulatedPlc:
    url: str
    ack_delay_s: float = 0.0
    received: list[Received] = field(default_factory=list)  # every ResultValid rising edge, in order
    ack_seq: int = 0  # retentive
    unsignalled_reports: list[list[str]] = field(default_factory=list)
    server: Server | None = None
    ns: int = 2
    certificate: str | None = None  # with a key: Basic256Sha256 SignAndEncrypt instead of None
    private_key: str | None = None
    fault_codes: list[int] = field(default_factory=list)  # every FaultCode the station wrote, in order
    # called with each received result, AckSeq and FaultCode as it happens, before the PLC acts on it: a
    # process that must survive a kill keeps its retentive memory there (plc.plc_sim_process)
    on_event: Callable[[dict[str, Any]], None] | None = None

    @staticmethod
    def node_ids(ns: int = 2) -> dict[str, str]:
        """The ``[opcua.client.nodes]`` table for a station talking to this simulator."""
        return {f: f"ns={ns};s=PLC.{tag}" for f, (tag, _) in TAGS.items()}

    async def start(self) -> None:
        server = Server()
        await server.init()
        server.set_endpoint(self.url)
        server.set_server_name("inspect-app PLC simulator")
        if self.certificate and self.private_key:
            await server.load_certificate(self.certificate)
            await server.load_private_key(self.private_key)
            server.set_security_policy([ua.SecurityPolicyType.Basic256Sha256_SignAndEncrypt])
        else:
            server.set_security_policy([ua.SecurityPolicyType.NoSecurity])  # a loopback test PLC
        self.ns = await server.register_namespace(SIM_NS)
        plc = await server.nodes.objects.add_object(
            ua.NodeId("PLC", self.ns), ua.QualifiedName("PLC", self.ns)
        )
        for tag, vtype in TAGS.values():
            value: Any = self.ack_seq if tag == "AckSeq" else ua.get_default_value(vtype)
            if tag == "UnsignalledParts":
                value = []
            node = await plc.add_variable(
                ua.NodeId(f"PLC.{tag}", self.ns), ua.QualifiedName(tag, self.ns), ua.Variant(value, vtype)
            )
            await node.set_writable()
        server.subscribe_server_callback(CallbackType.PostWrite, self._on_write)
        await server.start()
        self.server = server

    async def stop(self) -> None:
        if self.server is not None:
            await self.server.stop()
            self.server = None

    async def restart(self, down_s: float = 0.5) -> None:
        """A PLC power cycle: the server goes away and comes back; received/ack_seq are retentive."""
        await self.stop()
        await asyncio.sleep(down_s)
        await self.start()

    def _nodeid(self, tag: str) -> ua.NodeId:
        return ua.NodeId(f"PLC.{tag}", self.ns)

    def value(self, tag: str) -> Any:
        assert self.server
        return self.server.read_attribute_value(self._nodeid(tag)).Value.Value

    async def set(self, tag: str, value: Any) -> None:
        assert self.server
        vtype = next(t for name, t in TAGS.values() if name == tag)
        await self.server.write_attribute_value(self._nodeid(tag), ua.DataValue(ua.Variant(value, vtype)))

    async def wait_tag(self, tag: str, value: Any, deadline: float) -> bool:
        """Poll one of the PLC's own tags (a PLC scan) until it equals ``value`` or until ``deadline``."""
        while self.server is not None and self.value(tag) != value:
            if time.monotonic() >= deadline:
                return False
            await asyncio.sleep(0.005)
        return self.server is not None

    async def trigger(self, part_id: str) -> None:
        """The PLC program's trigger: PartId, then a rising Trigger (released by :meth:`release_trigger`)."""
        await self.set("PartId", part_id)
        await self.set("Trigger", True)

    async def release_trigger(self) -> None:
        await self.set("Trigger", False)

    async def _on_write(self, event: ServerItemCallback, _dispatcher: object) -> None:
        if not event.is_external:
            return
        written = {
            item.NodeId: item.Value.Value.Value
            for item in event.request_params.NodesToWrite
            if item.Value.Value is not None
        }
        if self._nodeid("UnsignalledParts") in written:
            parts = list(written[self._nodeid("UnsignalledParts")] or [])
            self.unsignalled_reports.append(parts)
            self._note({"event": "unsignalled", "parts": parts})
        if self._nodeid("FaultCode") in written:
            code = int(written[self._nodeid("FaultCode")] or 0)
            self.fault_codes.append(code)
            self._note({"event": "fault", "code": code})
        valid = written.get(self._nodeid("ResultValid"))
        if valid is True:
            seq, part, code = self.value("ResultSeq"), self.value("ResultPartId"), self.value("ResultCode")
            # a PLC takes the result and sets AckSeq in one scan, kept in its retentive memory together: one
            # event, so a kill cannot leave a result taken but its AckSeq forgotten (that would be sent again)
            now = not self.ack_delay_s
            taken = {"seq": int(seq), "part": str(part), "code": int(code), "acked": now}
            self._note({"event": "received", **taken})
            self.received.append(Received(int(seq), str(part), int(code)))
            if now:
                await self._ack(int(seq), noted=True)
            else:  # a slow PLC program: acknowledge later, without holding the station's write
                asyncio.get_running_loop().call_later(self.ack_delay_s, self._ack_soon, int(seq))
        elif valid is False:
            await self.set("Ack", False)

    def _ack_soon(self, seq: int) -> None:
        if self.server is not None:
            asyncio.get_running_loop().create_task(self._ack(seq))

    async def _ack(self, seq: int, noted: bool = False) -> None:
        self.ack_seq = seq
        if not noted:
            self._note({"event": "ack", "seq": seq})
        await self.set("AckSeq", seq)  # the retentive number first, then the Ack bit
        await self.set("Ack", True)

    def _note(self, event: dict[str, Any]) -> None:
        if self.on_event is not None:
            self.on_event(event)

    # ------------------------------------------------------------------ conformance
    def duplicates(self) -> list[int]:
        seen: set[int] = set()
        return [r.seq for r in self.received if r.seq in seen or seen.add(r.seq)]  # type: ignore[func-returns-value]

    def in_order(self) -> bool:
        seqs = [r.seq for r in self.received]
        return seqs == sorted(seqs)


async def run_client_mode(url: str, parts: int, rate_hz: float, cut_every: int, timeout_s: float) -> Any:
    """Serve as the PLC until ``parts`` results arrived (triggering at ``rate_hz`` when > 0); every
    ``cut_every`` results the PLC restarts. The report checks order, duplicates and part-id echo."""
    from plc.simulator import ConformanceReport

    plc = SimulatedPlc(url)
    await plc.start()
    report = ConformanceReport(f"simulate-plc --mode client (PLC server at {url})")
    report.notes.append(
        "station config: [opcua.client.nodes] "
        + ", ".join(f'{k} = "{v}"' for k, v in SimulatedPlc.node_ids(plc.ns).items())
    )
    triggered: list[str] = []
    next_cut = cut_every
    deadline = time.monotonic() + timeout_s + (parts / rate_hz if rate_hz > 0 else 0)
    try:
        while len(plc.received) < parts and time.monotonic() < deadline:
            # a PLC program triggers only when the station says Ready (connected, idle, operational)
            if rate_hz > 0 and len(triggered) < parts and await plc.wait_tag("Ready", True, deadline):
                part = f"SIMC-{len(triggered) + 1:05d}"
                await plc.trigger(part)
                triggered.append(part)
                await plc.wait_tag("Busy", True, time.monotonic() + 2.0)
                await plc.release_trigger()
            await asyncio.sleep(1 / rate_hz if rate_hz > 0 else 0.05)
            if cut_every and len(plc.received) >= next_cut:
                await plc.restart()
                next_cut += cut_every
    finally:
        await plc.stop()
    report.parts_sent = len(triggered)
    report.results = len(plc.received)
    report.check("results received", len(plc.received) >= parts, f"{len(plc.received)}/{parts}")
    report.check("delivered in order", plc.in_order(), "")
    report.check("nothing delivered twice", not plc.duplicates(), f"duplicates: {plc.duplicates()[:5]}")
    got = {r.part_id for r in plc.received}
    lost = [p for p in triggered if p not in got]
    report.check("every triggered part answered", not lost, f"missing: {lost[:5]}")
    if plc.unsignalled_reports:
        report.notes.append(f"unsignalled parts reported after reconnect: {plc.unsignalled_reports}")
    return report
