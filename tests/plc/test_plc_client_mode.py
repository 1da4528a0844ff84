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
        assert wait_until(lambda: plc.plc.value("FaultCode") == 0, 10)
        fault_codes = list(plc.plc.fault_codes)
    finally:
        plc.close()

    parts = [x.part_id for x in received]
    assert parts == [f"up-{i}" for i in range(5)] + down + [f"after-{i}" for i in range(3)]
    seqs = [x.seq for x in received]
    assert seqs == sorted(seqs) and len(set(seqs)) == len(seqs)  # in order, nothing twice
    db = sqlite3.connect(r.db)
    assert seqs == [row[0] for row in db.execute("select id from inspections order by id")]
    assert [x.code for x in received] == [1 if i % 2 == 0 else 2 for i in range(14)]  # the script alternates
    # the PLC was told which parts missed their cycle: the six, and up-4 too when its Ack was not seen
    # before the PLC went away (the race the comment above describes)
    assert reports and reports[-1] in (down, ["up-4", *down]), reports
    # LINK_LOST was raised at the reconnect, and cleared once the parts it named were delivered
    assert 5 in fault_codes and fault_codes[-1] == 0, fault_codes
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


def test_a_station_restart_resolves_tags_a_frozen_plc_kept_high(
    tmp_path: Path, start_station: Callable[..., Running]
) -> None:
    """Issue 10, point 4: the PLC took result N (ResultValid, Ack and AckSeq = N high) and then the link was
    cut before the station's ResultValid low reached it; a four-phase PLC holds Ack until ResultValid falls.
    The next station run reads that on the PLC, finishes the cycle, and delivers what came since."""
    port = free_port()
    plc = PlcThread(f"opc.tcp://127.0.0.1:{port}/")
    try:
        plc.do(plc.plc.start())
        cfg = _client_config(tmp_path, port)
        first = start_station(cfg)
        assert wait_until(lambda: first.link.status()["connected"], 15)
        for i in range(3):
            first.station.trigger(f"a-{i}")
        assert wait_until(lambda: len(plc.plc.received) == 3 and first.link.status()["outbox"] == 0, 15)
        first.link.stop()
        first.station.stop()
        last = plc.plc.received[-1].seq
        for tag, value in (("ResultSeq", last), ("ResultValid", True), ("AckSeq", last), ("Ack", True)):
            plc.do(plc.plc.set(tag, value))  # the PLC's own memory, as the cut left it
        second = start_station(cfg)  # a new station process on the same state dir
        assert wait_until(lambda: second.link.status()["connected"], 15)
        for i in range(2):
            second.station.trigger(f"b-{i}")
        assert wait_until(lambda: len(plc.plc.received) == 5 and second.link.status()["outbox"] == 0, 15)
        assert wait_until(lambda: plc.plc.value("Ack") is False and plc.plc.value("ResultValid") is False, 5)
        parts = [x.part_id for x in plc.plc.received]
        seqs = [x.seq for x in plc.plc.received]
    finally:
        plc.close()
    assert parts == ["a-0", "a-1", "a-2", "b-0", "b-1"]
    assert seqs == [
        row[0] for row in sqlite3.connect(first.db).execute("select id from inspections order by id")
    ]


def test_results_committed_before_the_link_started_reach_the_plc_but_not_earlier_runs(
    tmp_path: Path, start_station: Callable[..., Running]
) -> None:
    """Issue 10, point 5. The outbox of a first start takes the results of this station process from
    results.db; rows of earlier runs (made to look a month old here) are history and stay out."""
    port = free_port()
    plc = PlcThread(f"opc.tcp://127.0.0.1:{port}/")
    try:
        plc.do(plc.plc.start())
        cfg = _client_config(tmp_path, port)
        earlier = start_station(
            cfg.model_copy(update={"opcua": cfg.opcua.model_copy(update={"mode": "off"})})
        )
        earlier.station.trigger("old-0")
        earlier.station.trigger("old-1")
        assert earlier.station.wait_for_results(2, timeout=10)
        earlier.station.stop()
        with sqlite3.connect(earlier.db) as db:
            db.execute("update inspections set epoch = epoch - 30 * 86400")
        r = start_station(cfg, with_link=False)
        r.station.trigger("early-0")
        r.station.trigger("early-1")
        assert r.station.wait_for_results(2, timeout=10)  # committed, and no link is listening yet
        r.link.start(r.station)
        assert wait_until(lambda: r.link.status()["connected"], 15)
        r.station.trigger("late-0")
        assert wait_until(lambda: len(plc.plc.received) >= 3 and r.link.status()["outbox"] == 0, 15)
        parts = [x.part_id for x in plc.plc.received]
    finally:
        plc.close()
    assert parts == ["early-0", "early-1", "late-0"]


def test_link_lost_is_not_raised_at_start_with_free_running_triggers(
    tmp_path: Path, start_station: Callable[..., Running]
) -> None:
    """Issue 10, point 6: results of the first cycles (before the link is up) and those flushed while the
    link stops are queued, not reported as missed: LINK_LOST is for a link that was up and was lost."""
    port = free_port()
    plc = PlcThread(f"opc.tcp://127.0.0.1:{port}/")
    try:
        plc.do(plc.plc.start())
        cfg = _client_config(tmp_path, port)
        cfg = cfg.model_copy(
            update={"trigger": cfg.trigger.model_copy(update={"mode": "free_run", "rate_hz": 100})}
        )
        r = start_station(cfg, max_parts=30)
        assert r.station.finished.wait(30) and r.station.wait_for_results(30, timeout=15)
        assert wait_until(lambda: len(plc.plc.received) == 30 and r.link.status()["outbox"] == 0, 20)
        r.link.stop()
        from plc.client import PlcClientLink

        again = PlcClientLink(cfg)  # the next start on the same outbox
        again.start(r.station)
        try:
            assert wait_until(lambda: again.status()["connected"], 15)
            r.station.trigger("after-restart")
            assert wait_until(lambda: len(plc.plc.received) == 31, 15)
        finally:
            again.stop()
        faults, reports = list(plc.plc.fault_codes), list(plc.plc.unsignalled_reports)
        seqs = [x.seq for x in plc.plc.received]
    finally:
        plc.close()
    assert 5 not in faults and reports == []
    assert seqs == [row[0] for row in sqlite3.connect(r.db).execute("select id from inspections order by id")]


def test_a_replaced_results_db_starts_the_outbox_over(
    tmp_path: Path, start_station: Callable[..., Running]
) -> None:
    """Outbox sequences are results.db ids: when results.db is replaced (new ids from 1), the old ones
    must not hide the new results (the outbox ignores a sequence it holds)."""
    port = free_port()
    plc = PlcThread(f"opc.tcp://127.0.0.1:{port}/")
    try:
        plc.do(plc.plc.start())
        cfg = _client_config(tmp_path, port)
        first = start_station(cfg)
        for i in range(3):
            first.station.trigger(f"a-{i}")
        assert wait_until(lambda: len(plc.plc.received) == 3 and first.link.status()["outbox"] == 0, 15)
        first.link.stop()
        first.station.stop()
        for suffix in ("", "-wal", "-shm"):
            Path(f"{first.db}{suffix}").unlink(missing_ok=True)
        second = start_station(cfg)
        second.station.trigger("b-0")
        assert wait_until(lambda: len(plc.plc.received) == 4, 15)
        received = [(x.seq, x.part_id) for x in plc.plc.received]
    finally:
        plc.close()
    assert received[-1] == (1, "b-0")
