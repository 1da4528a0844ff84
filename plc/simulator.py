"""``inspect-app simulate-plc``: a small PLC that exercises the station's flat handshake over OPC UA.

It connects to the station's embedded server like a PLC would, triggers parts at a rate, acknowledges
results, checks that every result echoes its part id (and, given the results DB, that the row was committed
before ResultValid), measures trigger -> ResultValid, and injects faults on request: a late Ack, a double
trigger, a cut link. It ends with a conformance report and a non-zero exit status when a check failed.
For the client mode (the station writes into the PLC's server) see plc.plc_server_sim.
"""

from __future__ import annotations

import asyncio
import contextlib
import sqlite3
import statistics
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from asyncua import Client, Node, ua

from plc.nodes import PROJECT_NS

HS = "VisionSystem.Handshake"
RESULT_TAGS = ("ResultPartId", "Pass", "Fail", "ResultCode", "ResultId")


@dataclass
class Check:
    name: str
    ok: bool
    detail: str = ""


@dataclass
class ConformanceReport:
    title: str
    parts_sent: int = 0
    results: int = 0
    latencies_ms: list[float] = field(default_factory=list)
    # per part, monotonic (system-wide on Linux): (part id, Trigger written, ResultValid seen)
    stamps: list[tuple[str, float, float]] = field(default_factory=list)
    checks: list[Check] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    @property
    def passed(self) -> bool:
        return all(c.ok for c in self.checks)

    def check(self, name: str, ok: bool, detail: str = "") -> None:
        self.checks.append(Check(name, ok, detail))

    def percentile(self, q: float) -> float:
        xs = sorted(self.latencies_ms)
        if not xs:
            return float("nan")
        return xs[min(len(xs) - 1, max(0, round(q / 100 * len(xs)) - 1))]

    def render(self) -> str:
        lines = [
            f"# {self.title}",
            "",
            f"parts triggered: {self.parts_sent}, results received: {self.results}",
        ]
        if self.latencies_ms:
            lines.append(
                f"trigger -> ResultValid ms: p50 {self.percentile(50):.1f}  p95 {self.percentile(95):.1f}  "
                f"p99 {self.percentile(99):.1f}  max {max(self.latencies_ms):.1f}  "
                f"mean {statistics.fmean(self.latencies_ms):.1f}"
            )
        lines += ["", "| check | result | detail |", "|---|---|---|"]
        lines += [f"| {c.name} | {'PASS' if c.ok else 'FAIL'} | {c.detail} |" for c in self.checks]
        lines += [f"note: {n}" for n in self.notes]
        lines += ["", "CONFORMANT" if self.passed else "NOT CONFORMANT"]
        return "\n".join(lines)


@dataclass
class Faults:
    """Every Nth part gets the fault (0 = never)."""

    late_ack: int = 0
    double_trigger: int = 0
    link_cut: int = 0
    late_ack_s: float = 3.0  # must exceed the station's handshake.ack_timeout_s


@dataclass
class Connection:
    url: str
    user: str | None = None
    password: str | None = None
    security: str | None = None  # asyncua security string "Basic256Sha256,SignAndEncrypt,cert,key[,server]"
    application_uri: str | None = None  # None: the one in the client certificate, else DEFAULT_URI
    timeout_s: float = 5.0
    publishing_interval_ms: float = 0.0  # 0: every change is published at once

    def resolved_application_uri(self) -> str:
        """A secured server refuses a client whose announced URI differs from its certificate's, so the
        simulator announces the URI of the certificate it was given."""
        if self.application_uri:
            return self.application_uri
        fields = (self.security or "").split(",")
        if len(fields) >= 3 and fields[2]:
            from plc.certs import application_uri_of, load_certificate_file

            uri = application_uri_of(load_certificate_file(Path(fields[2])))
            if uri:
                return uri
        return DEFAULT_URI


DEFAULT_URI = "urn:inspect-app:plc-simulator"


class _Tags:
    def __init__(self) -> None:
        self.values: dict[str, Any] = {}
        self.changed = asyncio.Event()
        self.names: dict[ua.NodeId, str] = {}

    def datachange_notification(self, node: Node, val: Any, data: Any) -> None:
        name = self.names.get(node.nodeid)
        if name:
            self.values[name] = val
            self.changed.set()

    async def wait(self, name: str, pred: Any, timeout: float) -> bool:
        deadline = time.monotonic() + timeout
        while not pred(self.values.get(name)):
            left = deadline - time.monotonic()
            if left <= 0:
                return False
            self.changed.clear()
            try:
                await asyncio.wait_for(self.changed.wait(), left)
            except TimeoutError:
                return pred(self.values.get(name))
        return True


class PlcSimulator:
    def __init__(self, conn: Connection, db: Path | None = None, result_timeout_s: float = 10.0) -> None:
        self.conn = conn
        self.db = db
        self.result_timeout_s = result_timeout_s
        self.client: Client | None = None
        self.tags = _Tags()
        self.ns = 0

    async def connect(self) -> None:
        c = Client(self.conn.url, timeout=self.conn.timeout_s)
        c.application_uri = self.conn.resolved_application_uri()
        c.name = "inspect-app PLC simulator"
        if self.conn.security:
            await c.set_security_string(self.conn.security)
        if self.conn.user:
            c.set_user(self.conn.user)
            c.set_password(self.conn.password or "")
        await c.connect()
        self.client = c
        self.ns = await c.get_namespace_index(PROJECT_NS)
        self.tags = _Tags()
        watched = ["ResultValid", "Busy", "Ready", "Fault", "FaultCode", "MissedTriggers", "Heartbeat"]
        nodes = [self.node(n) for n in watched]
        for n, node in zip(watched, nodes, strict=True):
            self.tags.names[node.nodeid] = n
        sub = await c.create_subscription(self.conn.publishing_interval_ms, self.tags)
        await sub.subscribe_data_change(nodes)
        for n, v in zip(watched, await c.read_values(nodes), strict=True):
            self.tags.values.setdefault(n, v)

    async def disconnect(self) -> None:
        if self.client is not None:
            with contextlib.suppress(TimeoutError, OSError, ua.UaError):
                await self.client.disconnect()
            self.client = None

    def node(self, name: str) -> Node:
        assert self.client
        return self.client.get_node(ua.NodeId(f"{HS}.{name}", self.ns))

    async def write(self, **values: Any) -> None:
        assert self.client
        names = list(values)
        types = {"PartId": ua.VariantType.String}
        dvs = [ua.DataValue(ua.Variant(values[n], types.get(n, ua.VariantType.Boolean))) for n in names]
        await self.client.write_values([self.node(n) for n in names], dvs)

    async def read(self, *names: str) -> dict[str, Any]:
        assert self.client
        return dict(zip(names, await self.client.read_values([self.node(n) for n in names]), strict=True))

    # ------------------------------------------------------------------ one part
    async def cycle(self, part_id: str, report: ConformanceReport, i: int, faults: Faults) -> None:
        t0 = time.monotonic()
        await self.write(PartId=part_id, Trigger=True)
        report.parts_sent += 1
        if faults.double_trigger and i % faults.double_trigger == 0:
            await self._double_trigger(part_id, report)
        if faults.link_cut and i % faults.link_cut == 0:
            await self.disconnect()  # the PLC's link drops right after the trigger ...
            await asyncio.sleep(0.2)
            await self.connect()  # ... and comes back: the result must still be there
        got = await self.tags.wait("ResultValid", bool, self.result_timeout_s)
        if not got:
            report.check(
                f"part {part_id} answered", False, f"no ResultValid within {self.result_timeout_s:g}s"
            )
            await self.write(Trigger=False)
            return
        seen = time.monotonic()
        report.latencies_ms.append((seen - t0) * 1000)
        report.stamps.append((part_id, t0, seen))
        res = await self.read(*RESULT_TAGS)
        report.results += 1
        if res["ResultPartId"] != part_id:
            report.check(f"part {part_id} echoed", False, f"ResultPartId was {res['ResultPartId']!r}")
        if res["ResultCode"] not in (1, 2, 3) or (res["Pass"] and res["Fail"]):
            report.check(f"part {part_id} result tags", False, f"code {res['ResultCode']}, {res}")
        if self.db is not None and not _committed(self.db, res["ResultId"], part_id):
            report.check(f"part {part_id} committed before ResultValid", False, f"no row {res['ResultId']}")
        if faults.late_ack and i % faults.late_ack == 0:
            await self._late_ack(part_id, report, faults.late_ack_s)
        await self.write(Trigger=False, Ack=True)
        if not await self.tags.wait("ResultValid", lambda v: v is False, self.result_timeout_s):
            report.check(f"part {part_id} ResultValid cleared after Ack", False, "still set")
        await self.write(Ack=False)

    async def _double_trigger(self, part_id: str, report: ConformanceReport) -> None:
        before = int(self.tags.values.get("MissedTriggers") or 0)
        await self.write(Trigger=False)
        await self.write(Trigger=True)  # a second rising edge while the station is busy with part_id
        ok = await self.tags.wait("FaultCode", lambda v: v == 1, self.result_timeout_s)
        after = int((await self.read("MissedTriggers"))["MissedTriggers"])
        report.check(
            f"double trigger on {part_id} -> missed trigger + fault 1",
            ok and after == before + 1,
            f"FaultCode {self.tags.values.get('FaultCode')}, MissedTriggers {before}->{after}",
        )
        await self.write(FaultReset=True)
        cleared = await self.tags.wait("FaultCode", lambda v: v == 0, self.result_timeout_s)
        await self.write(FaultReset=False)
        report.check(f"FaultReset after double trigger on {part_id}", cleared, "")

    async def _late_ack(self, part_id: str, report: ConformanceReport, delay_s: float) -> None:
        raised = await self.tags.wait("FaultCode", lambda v: v == 2, delay_s)
        report.check(
            f"late Ack on {part_id} -> fault 2 (ACK_TIMEOUT)",
            raised,
            f"FaultCode {self.tags.values.get('FaultCode')} after {delay_s:g}s",
        )
        if raised:
            await self.write(Ack=True)
            cleared = await self.tags.wait("FaultCode", lambda v: v == 0, self.result_timeout_s)
            report.check(f"late Ack on {part_id} clears the fault", cleared, "")

    # ------------------------------------------------------------------ a run
    async def run(
        self, parts: int, rate_hz: float, faults: Faults, prefix: str = "SIM", budget_ms: float | None = None
    ) -> ConformanceReport:
        report = ConformanceReport(f"simulate-plc against {self.conn.url}")
        await self.connect()
        try:
            hb0 = int(self.tags.values.get("Heartbeat") or 0)
            ready = await self.tags.wait("Ready", bool, self.result_timeout_s)
            report.check("station Ready before the first trigger", ready, "")
            period = 1.0 / rate_hz if rate_hz > 0 else 0.0
            start = time.monotonic()
            stamp = time.strftime("%H%M%S")
            for i in range(1, parts + 1):
                await self.cycle(f"{prefix}-{stamp}-{i:05d}", report, i, faults)
                wait = start + i * period - time.monotonic()
                if wait > 0:
                    await asyncio.sleep(wait)
            hb_ok = await self.tags.wait("Heartbeat", lambda v: int(v or 0) > hb0, 3.0)
            report.check(
                "Heartbeat ticks while healthy", hb_ok, f"{hb0} -> {self.tags.values.get('Heartbeat')}"
            )
        finally:
            await self.disconnect()
        answered = report.results == report.parts_sent
        report.check("every trigger answered", answered, f"{report.results}/{report.parts_sent}")
        echo_fail = [c for c in report.checks if "echoed" in c.name or "committed" in c.name]
        report.check(
            "part ids echoed (and committed first, when checked)",
            not echo_fail,
            f"{len(echo_fail)} mismatch(es)",
        )
        if budget_ms is not None and report.latencies_ms:
            p99 = report.percentile(99)
            report.check(
                f"trigger -> ResultValid p99 within {budget_ms:g} ms", p99 <= budget_ms, f"p99 {p99:.1f} ms"
            )
        return report


def _committed(db: Path, result_id: str, part_id: str) -> bool:
    from inspect_app.store.read import ResultsReader

    try:
        with ResultsReader(db) as reader:
            rec = reader.inspection(int(result_id), detections=False)
    except (sqlite3.Error, ValueError):
        return False
    return rec is not None and rec.part_id == part_id
