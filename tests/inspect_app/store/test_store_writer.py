"""SqliteResultStore: batching, ordering, commit-before-listener, close, WAL readers, counts, failures."""

from __future__ import annotations

import sqlite3
import threading
import time
from pathlib import Path

import pytest

from inspect_app.config import StoreConfig
from inspect_app.store import ImageArchive, SqliteResultStore, StoreClosed, open_readonly
from inspect_app.testing.fakes import wait_until
from inspect_app.types import (
    Decision,
    Detection,
    Inspection,
    Reason,
    Severity,
    StatusEvent,
    Verdict,
)


def make_inspection(i: int, verdict: Verdict = Verdict.PASS, n_det: int = 2) -> Inspection:
    dets = tuple(Detection(k, f"c{k}", 0.5 + k / 10, (1.0 + i, 2.0, 30.0, 40.0 + k)) for k in range(n_det))
    reasons = (
        (Reason("DEFECT", "c0 found", "c0", 0.5, dets[0].box),) if verdict is Verdict.FAIL and dets else ()
    )
    code = "CAMERA_ERROR" if verdict is Verdict.NOT_INSPECTED else None
    return Inspection(
        part_id=f"part-{i}", trigger_id=i, trigger_source="software", station="st-1", recipe="pcb-a",
        model_id="synth/1.0.0", model_sha256="ab" * 32, decision=Decision(verdict, reasons, code),
        detections=dets, timings_ms={"acquire": 1.5, "detect": 7.25, "decide": 0.1, "extra": 3.0},
        frame_id=i, captured_at=1_700_000_000.0 + i, source="synthetic", image=None,
    )  # fmt: skip


def make_store(tmp_path: Path, **cfg) -> SqliteResultStore:
    config = StoreConfig(**cfg)
    return SqliteResultStore(
        tmp_path / "results.db", ImageArchive(tmp_path / "images", config), config, "st-1"
    )



def test_listener_runs_after_commit_in_submission_order_with_batches(tmp_path: Path) -> None:
    store = make_store(tmp_path, batch_size=8, commit_interval_ms=1000)
    store.start()
    reader = open_readonly(tmp_path / "results.db")
    seen: list[tuple[int, str, float, bool]] = []
    gate = threading.Event()

    def listener(c) -> None:
        # the row must already be visible to another connection: it is committed
        row = reader.execute("SELECT part_id FROM inspections WHERE id = ?", (c.inspection_id,)).fetchone()
        seen.append((c.inspection_id, c.inspection.part_id, c.committed_mono, row is not None and
                     row[0] == c.inspection.part_id))  # fmt: skip
        if len(seen) == 1:
            gate.wait(5)  # hold the writer so the next 20 queue up behind it

    store.add_commit_listener(listener)
    store.submit(make_inspection(0))
    assert wait_until(lambda: len(seen) == 1)
    for i in range(1, 21):
        store.submit(make_inspection(i))
    gate.set()
    store.close()

    assert [s[1] for s in seen] == [f"part-{i}" for i in range(21)]
    assert all(s[3] for s in seen), "listener called before its row was visible"
    ids = [s[0] for s in seen]
    assert ids == sorted(ids) and len(set(ids)) == 21
    sizes: dict[float, int] = {}
    for s in seen:
        sizes[s[2]] = sizes.get(s[2], 0) + 1
    assert list(sizes.values()) == [1, 8, 8, 4]  # batch_size caps a batch; a lone item is not held back


def test_lone_inspection_is_not_held_for_a_batch(tmp_path: Path) -> None:
    store = make_store(tmp_path, batch_size=1000, commit_interval_ms=10_000)
    done = threading.Event()
    store.add_commit_listener(lambda c: done.set())
    store.start()
    t0 = time.monotonic()
    store.submit(make_inspection(1))
    assert done.wait(2.0)
    assert time.monotonic() - t0 < 0.5
    store.close()


def test_close_flushes_everything_queued_and_then_refuses(tmp_path: Path) -> None:
    store = make_store(tmp_path, queue_size=16, batch_size=32)
    got: list[int] = []
    store.add_commit_listener(lambda c: got.append(c.inspection_id))
    store.start()
    for i in range(300):
        store.submit(make_inspection(i, Verdict.FAIL if i % 7 == 0 else Verdict.PASS))
    store.record_event(StatusEvent("state", Severity.INFO, "stopping", {"why": "test"}))
    store.close()
    assert len(got) == 300
    with pytest.raises(StoreClosed):
        store.submit(make_inspection(301))
    conn = open_readonly(tmp_path / "results.db")
    assert conn.execute("SELECT count(*) FROM inspections").fetchone()[0] == 300
    assert conn.execute("SELECT count(*) FROM detections").fetchone()[0] == 600
    ev = conn.execute("SELECT kind, severity, message, payload FROM events WHERE kind = 'state'").fetchone()
    assert tuple(ev) == ("state", "info", "stopping", '{"why": "test"}')


def test_wal_and_synchronous_full(tmp_path: Path) -> None:
    store = make_store(tmp_path)
    store.start()
    assert store.pragmas["journal_mode"] == "wal"
    assert store.pragmas["synchronous"] == 2  # FULL
    store.close()
    conn = sqlite3.connect(tmp_path / "results.db")
    assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"  # persistent in the file


def test_readonly_reader_sees_commits_while_writer_runs_and_cannot_write(tmp_path: Path) -> None:
    store = make_store(tmp_path, batch_size=4)
    store.start()
    reader = open_readonly(tmp_path / "results.db")

    def produce() -> None:
        for i in range(400):
            store.submit(make_inspection(i))
            if i % 20 == 0:
                time.sleep(0.01)

    t = threading.Thread(target=produce)
    t.start()
    counts = []
    while t.is_alive():
        n = reader.execute("SELECT count(*) FROM inspections").fetchone()[0]
        # each transaction holds whole inspections: never a row without its detections
        dets = reader.execute("SELECT count(*) FROM detections WHERE inspection_id <= ?", (n,)).fetchone()[0]
        assert dets == 2 * n
        counts.append(n)
        time.sleep(0.005)
    t.join()
    assert len({c for c in counts if 0 < c < 400}) >= 2, "reader did not see progress during writes"
    with pytest.raises(sqlite3.OperationalError, match="readonly"):
        reader.execute("DELETE FROM inspections")
    store.close()
    assert reader.execute("SELECT count(*) FROM inspections").fetchone()[0] == 400


def test_counts_in_memory_and_initialised_from_db(tmp_path: Path) -> None:
    store = make_store(tmp_path)
    store.start()
    verdicts = [Verdict.PASS] * 5 + [Verdict.FAIL] * 3 + [Verdict.NOT_INSPECTED] * 2
    for i, v in enumerate(verdicts):
        store.submit(make_inspection(i, v))
    store.close()
    expected = {"total": 10, "pass": 5, "fail": 3, "not_inspected": 2}
    assert store.counts() == expected
    again = make_store(tmp_path)
    again.start()
    assert again.counts() == expected
    again.submit(make_inspection(99, Verdict.FAIL))
    again.close()
    assert again.counts() == {**expected, "total": 11, "fail": 4}


def test_row_content(tmp_path: Path) -> None:
    store = make_store(tmp_path)
    store.start()
    store.submit(make_inspection(3, Verdict.FAIL))
    store.close()
    row = open_readonly(tmp_path / "results.db").execute("SELECT * FROM inspections").fetchone()
    assert row["time"] == "2023-11-14T22:13:23.000000Z" and row["epoch"] == 1_700_000_003.0
    assert (row["verdict"], row["part_id"], row["n_detections"], row["t_detect_ms"]) == (
        "FAIL",
        "part-3",
        2,
        7.25,
    )
    assert row["t_total_ms"] == pytest.approx(1.5 + 7.25 + 0.1 + row["t_record_ms"])
    assert row["timings"] == '{"extra": 3.0}' and '"code": "DEFECT"' in row["reasons"]
    assert row["image_path"] is None  # no frame given


def test_submit_blocks_when_queue_full_and_never_drops(tmp_path: Path) -> None:
    store = make_store(tmp_path, queue_size=2, batch_size=1)
    gate = threading.Event()
    got: list[str] = []

    def slow(c) -> None:
        gate.wait(5)
        got.append(c.inspection.part_id)

    store.add_commit_listener(slow)
    store.start()
    producer = threading.Thread(target=lambda: [store.submit(make_inspection(i)) for i in range(10)])
    producer.start()
    time.sleep(0.3)
    assert producer.is_alive(), "submit should block while the queue is full"
    gate.set()
    producer.join(5)
    store.close()
    assert got == [f"part-{i}" for i in range(10)]


def test_failed_commit_is_retried_alarmed_and_nothing_lost(tmp_path: Path) -> None:
    store = make_store(tmp_path, batch_size=8)
    events: list[StatusEvent] = []
    got: list[str] = []
    store.add_event_listener(events.append)
    store.add_commit_listener(lambda c: got.append(c.inspection.part_id))
    store.start()
    # a second writer installs a real failure in the INSERT path: every transaction of the store aborts
    admin = sqlite3.connect(tmp_path / "results.db", isolation_level=None)
    admin.executescript(
        "CREATE TABLE fail_switch (x); INSERT INTO fail_switch VALUES (1);"
        "CREATE TRIGGER fail_ins BEFORE INSERT ON inspections WHEN EXISTS (SELECT 1 FROM fail_switch)"
        " BEGIN SELECT RAISE(ABORT, 'simulated I/O failure'); END;"
    )
    for i in range(5):
        store.submit(make_inspection(i))
    assert wait_until(lambda: not store.healthy)
    time.sleep(0.3)  # several retries happen meanwhile
    assert got == []
    assert any(e.severity is Severity.ERROR and e.kind == "store" for e in events)
    admin.execute("DELETE FROM fail_switch")
    assert wait_until(lambda: len(got) == 5)
    assert store.healthy and events[-1].severity is Severity.INFO
    store.close()
    rows = admin.execute("SELECT part_id FROM inspections ORDER BY id").fetchall()
    assert [r[0] for r in rows] == [f"part-{i}" for i in range(5)]
    kinds = admin.execute("SELECT severity FROM events WHERE kind = 'store' ORDER BY id").fetchall()
    assert [k[0] for k in kinds] == ["error", "info"]  # alarms are persisted once the DB works again


def test_listener_exception_does_not_stop_writer(tmp_path: Path) -> None:
    store = make_store(tmp_path)
    events: list[StatusEvent] = []
    store.add_event_listener(events.append)

    def bad(c) -> None:
        raise RuntimeError("boom")

    store.add_commit_listener(bad)
    store.start()
    store.submit(make_inspection(1))
    store.submit(make_inspection(2))
    store.close()
    assert store.counts()["total"] == 2
    assert sum("boom" in e.message for e in events) == 2


def test_close_journals_what_a_failing_commit_holds_and_the_next_start_imports_it(tmp_path: Path) -> None:
    store = make_store(tmp_path)
    got: list[int] = []
    store.add_commit_listener(lambda c: got.append(c.inspection_id))
    store.start()
    admin = sqlite3.connect(tmp_path / "results.db", isolation_level=None)
    admin.executescript(
        "CREATE TRIGGER fail_ins BEFORE INSERT ON inspections BEGIN SELECT RAISE(ABORT, 'broken'); END;"
    )
    store.submit(make_inspection(1))
    store.submit(make_inspection(2), block=False)
    t0 = time.monotonic()
    store.close(timeout=0.3)  # gives up on the DB, not on the results
    assert time.monotonic() - t0 < 3
    assert got == [] and not store.healthy  # never reported as done
    assert admin.execute("SELECT count(*) FROM inspections").fetchone()[0] == 0
    assert store.journaled == 2 and store.journal.path.exists()

    admin.execute("DROP TRIGGER fail_ins")  # the disk is fine again
    again = make_store(tmp_path)
    again.start()
    again.close()
    rows = admin.execute("SELECT part_id, timings FROM inspections ORDER BY id").fetchall()
    assert [r[0] for r in rows] == ["part-1", "part-2"] and all("journaled" in r[1] for r in rows)
    assert not store.journal.path.exists()
    events = [r[0] for r in admin.execute("SELECT message FROM events")]
    assert any("imported 2 result(s)" in m for m in events)
