"""Client mode: the station writes into a (simulated) PLC's own OPC UA server, through a PLC restart."""

from __future__ import annotations

import asyncio
import sqlite3
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

from plc.plc_server_sim import SimulatedPlc
from plc.testing import Running, free_port, station_config, wait_until


class PlcThread:
    """The simulated PLC in its own thread and loop, as a real PLC is another machine."""

    def __init__(self, url: str) -> None:
        self.plc = SimulatedPlc(url)
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.thread.start()

    def do(self, coro: Any, timeout: float = 30) -> Any:
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(timeout)

    def close(self) -> None:
        self.do(self._shutdown())
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(5)

    async def _shutdown(self) -> None:
        await self.plc.stop()
        tasks = [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]
        for t in tasks:
            t.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)


def _client_config(tmp_path: Path, port: int) -> Any:
    opcua = {
        "mode": "client",
        "client": {
            "server_url": f"opc.tcp://127.0.0.1:{port}/",
            "security": "None",
            "keepalive_s": 0.3,
            "request_timeout_s": 1.0,
            "reconnect_min_s": 0.1,
            "reconnect_max_s": 0.5,
            "publishing_interval_ms": 5,
            "nodes": SimulatedPlc.node_ids(2),
        },
        "handshake": {"ack_timeout_s": 5.0, "heartbeat_period_s": 0.05},
    }
    return station_config(tmp_path, opcua)


def test_client_mode_through_a_plc_restart_loses_nothing_and_duplicates_nothing(
    tmp_path: Path, start_station: Callable[..., Running]
) -> None:
    port = free_port()
    plc = PlcThread(f"opc.tcp://127.0.0.1:{port}/")
    try:
        plc.do(plc.plc.start())
        r = start_station(_client_config(tmp_path, port))
        assert wait_until(lambda: r.link.status()["connected"], 15)
        for i in range(5):
            r.station.trigger(f"up-{i}")
        # the PLC has all five; the station may not have seen the last Ack before the PLC goes away: then
        # the PLC's retentive AckSeq tells it after the restart, and nothing is delivered twice
        assert wait_until(lambda: len(plc.plc.received) == 5, 15)

        plc.do(plc.plc.stop())  # the PLC goes away ...
        assert wait_until(lambda: not r.link.status()["connected"], 15)
        down = [f"down-{i}" for i in range(6)]
        for part in down:
            r.station.trigger(part)
        assert r.station.wait_for_results(11, timeout=15)
        assert wait_until(lambda: r.link.status()["outbox"] >= 6, 5)  # waiting, persisted

        plc.do(plc.plc.start())  # ... and comes back with its retentive memory
        assert wait_until(lambda: len(plc.plc.received) >= 11 and r.link.status()["outbox"] == 0, 20)
        for i in range(3):
            r.station.trigger(f"after-{i}")
        assert wait_until(lambda: len(plc.plc.received) >= 14, 15)
        received = list(plc.plc.received)
        reports = list(plc.plc.unsignalled_reports)
        heartbeat = plc.plc.value("Heartbeat")
        fault_code = plc.plc.value("FaultCode")
    finally:
        plc.close()

    parts = [x.part_id for x in received]
    assert parts == [f"up-{i}" for i in range(5)] + down + [f"after-{i}" for i in range(3)]
    seqs = [x.seq for x in received]
    assert seqs == sorted(seqs) and len(set(seqs)) == len(seqs)  # in order, nothing twice
    db = sqlite3.connect(r.db)
    assert seqs == [row[0] for row in db.execute("select id from inspections order by id")]
    assert [x.code for x in received] == [1 if i % 2 == 0 else 2 for i in range(14)]  # the script alternates
    assert reports and reports[-1] == down  # the PLC was told which parts missed their cycle
    assert fault_code == 5  # LINK_LOST stays latched for the PLC program to see
    assert heartbeat > 0


def test_client_mode_plc_triggers_and_busy_gating(
    tmp_path: Path, start_station: Callable[..., Running]
) -> None:
    port = free_port()
    plc = PlcThread(f"opc.tcp://127.0.0.1:{port}/")
    try:
        plc.do(plc.plc.start())
        r = start_station(_client_config(tmp_path, port))
        assert wait_until(lambda: r.link.status()["connected"], 15)
        r.detector.hang()
        plc.do(plc.plc.trigger("P-1"))
        assert wait_until(lambda: plc.plc.value("Busy") is True, 10)
        plc.do(plc.plc.release_trigger())
        plc.do(plc.plc.trigger("P-2"))  # while busy: a missed trigger, faulted on the PLC
        assert wait_until(lambda: plc.plc.value("FaultCode") == 1, 10)
        r.detector.release()
        # the missed P-2 is committed NOT_INSPECTED at once, so the PLC hears of it before P-1's verdict
        assert wait_until(lambda: [x.part_id for x in plc.plc.received] == ["P-2", "P-1"], 10)
        assert wait_until(lambda: plc.plc.value("Busy") is False, 10)
        missed = r.link.status()["missed_triggers"]
    finally:
        plc.close()
    assert missed == 1
    rows = (
        sqlite3.connect(r.db)
        .execute("select part_id, trigger_source, verdict, error_code from inspections order by id")
        .fetchall()
    )
    assert rows == [("P-2", "external", "NOT_INSPECTED", "MISSED_TRIGGER"), ("P-1", "external", "PASS", None)]


def test_results_while_the_link_is_stopped_are_delivered_at_next_start(
    tmp_path: Path, start_station: Callable[..., Running]
) -> None:
    """The outbox is a file: results the station commits after its link stopped wait for the next run."""
    from plc.client import PlcClientLink

    port = free_port()
    plc = PlcThread(f"opc.tcp://127.0.0.1:{port}/")
    try:
        plc.do(plc.plc.start())
        cfg = _client_config(tmp_path, port)
        r = start_station(cfg)
        assert wait_until(lambda: r.link.status()["connected"], 15)
        r.station.trigger("first")
        assert wait_until(lambda: len(plc.plc.received) == 1, 10)
        r.link.stop()
        r.station.trigger("while-stopped")
        assert r.station.wait_for_results(2, timeout=10)
        assert wait_until(lambda: r.link.outbox.pending_count() == 1, 5)
        again = PlcClientLink(cfg)
        again.start(r.station)
        try:
            assert wait_until(lambda: len(plc.plc.received) == 2, 15)
        finally:
            again.stop()
        got = [x.part_id for x in plc.plc.received]
    finally:
        plc.close()
    assert got == ["first", "while-stopped"]


def test_client_mode_over_an_encrypted_channel(
    tmp_path: Path, start_station: Callable[..., Running], pki: Any
) -> None:
    port = free_port()
    plc = PlcThread(f"opc.tcp://127.0.0.1:{port}/")
    plc.plc.certificate, plc.plc.private_key = str(pki.server_cert), str(pki.server_key)  # the PLC's own pair
    try:
        plc.do(plc.plc.start())
        cfg = _client_config(tmp_path, port)
        client = cfg.opcua.client.model_copy(
            update={"security": "Basic256Sha256", "server_certificate": pki.server_cert}
        )
        opcua = cfg.opcua.model_copy(
            update={"client": client, "certificate": pki.client_cert, "private_key": pki.client_key,
                    "application_uri": "urn:inspect-app:test-client"}
        )  # fmt: skip
        r = start_station(cfg.model_copy(update={"opcua": opcua}))
        assert wait_until(lambda: r.link.status()["connected"], 15), r.link.status()
        r.station.trigger("enc-1")
        assert wait_until(lambda: [x.part_id for x in plc.plc.received] == ["enc-1"], 10)
        status = r.link.status()
    finally:
        plc.close()
    assert status["security"] == "Basic256Sha256 SignAndEncrypt (client)"
    assert status["secured"] is True and status["security_mode"] == "Basic256Sha256/SignAndEncrypt"
