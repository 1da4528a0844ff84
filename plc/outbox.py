"""The client mode's persistent outbox: every committed result waits here until the PLC acknowledged it.

Its own SQLite file (``opcua.client.outbox_db`` under state_dir): ``results.db`` keeps exactly one writer, the
store. A row is added on the station's signal thread right after the result's DB commit (one small WAL
insert), and leaves the queue only when the PLC acknowledged that sequence number, so a link cut, a PLC
restart or a station restart loses nothing and delivers in order. ``seq`` is the inspection id (ResultId):
unique, increasing, and the PLC's retentive AckSeq tells after a reconnect what it already has, so nothing is
delivered twice.
"""

from __future__ import annotations

import sqlite3
import threading
import time
from dataclasses import dataclass
from pathlib import Path

from inspect_app.types import CommittedInspection
from plc.backlog import CommittedRow
from plc.defects import counted_defects
from plc.handshake import RESULT_CODES

_SCHEMA = """
CREATE TABLE IF NOT EXISTS outbox (
    seq INTEGER PRIMARY KEY,          -- inspections.id in results.db
    part_id TEXT NOT NULL,
    verdict TEXT NOT NULL,
    result_code INTEGER NOT NULL,
    defect_count INTEGER NOT NULL,
    enqueued_at REAL NOT NULL,
    link_up INTEGER NOT NULL,         -- 0: produced while the link was down (the PLC is told: unsignalled)
    reported INTEGER NOT NULL DEFAULT 0,  -- the unsignalled part id was written to the PLC
    sent INTEGER NOT NULL DEFAULT 0,      -- ResultValid was written for it at least once
    delivered_at REAL                 -- NULL until the PLC acknowledged it
);
CREATE INDEX IF NOT EXISTS idx_outbox_pending ON outbox(seq) WHERE delivered_at IS NULL;
"""


@dataclass(frozen=True, slots=True)
class OutboxEntry:
    seq: int
    part_id: str
    verdict: str
    result_code: int
    defect_count: int
    link_up: bool


class Outbox:
    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        # one connection shared by the signal thread (add) and the link's loop (the rest), under a lock
        self._conn = sqlite3.connect(str(path), isolation_level=None, check_same_thread=False, timeout=10.0)
        self._conn.execute("PRAGMA journal_mode=WAL")
        # NORMAL: a row survives a process crash; results.db (synchronous=FULL) stays the record of truth
        self._conn.execute("PRAGMA synchronous=NORMAL")
        self._conn.executescript(_SCHEMA)
        self._lock = threading.Lock()

    def add(self, committed: CommittedInspection, link_up: bool) -> bool:
        """Queue a committed result; False when its sequence was queued already (by the start-up backlog
        or the listener, whichever came second)."""
        insp = committed.inspection
        return self._insert(
            committed.inspection_id,
            insp.part_id,
            insp.verdict.value,
            int(RESULT_CODES[insp.verdict]),
            len(counted_defects(insp)),
            link_up,
        )

    def add_row(self, row: CommittedRow, link_up: bool = True) -> bool:
        return self._insert(row.seq, row.part_id, row.verdict, row.result_code, row.defect_count, link_up)

    def _insert(self, seq: int, part_id: str, verdict: str, code: int, defects: int, link_up: bool) -> bool:
        with self._lock:
            cur = self._conn.execute(
                "INSERT OR IGNORE INTO outbox (seq, part_id, verdict, result_code, defect_count, enqueued_at,"
                " link_up) VALUES (?, ?, ?, ?, ?, ?, ?)",
                (seq, part_id, verdict, code, defects, time.time(), int(link_up)),
            )
            return cur.rowcount == 1

    def high_water(self) -> int | None:
        """The newest sequence ever queued (delivered rows are pruned oldest first, so it survives), or None
        for an outbox that never held anything."""
        with self._lock:
            return self._conn.execute("SELECT max(seq) FROM outbox").fetchone()[0]

    def forget_all(self) -> int:
        """Every row: for an outbox whose sequences belong to a results.db that is gone."""
        with self._lock:
            return self._conn.execute("DELETE FROM outbox").rowcount

    def pending(self, limit: int = 100) -> list[OutboxEntry]:
        """Undelivered entries, oldest first."""
        with self._lock:
            rows = self._conn.execute(
                "SELECT seq, part_id, verdict, result_code, defect_count, link_up FROM outbox"
                " WHERE delivered_at IS NULL ORDER BY seq LIMIT ?",
                (limit,),
            ).fetchall()
        return [OutboxEntry(r[0], r[1], r[2], r[3], r[4], bool(r[5])) for r in rows]

    def pending_count(self) -> int:
        with self._lock:
            return self._conn.execute("SELECT count(*) FROM outbox WHERE delivered_at IS NULL").fetchone()[0]

    def mark_sent(self, seq: int) -> None:
        with self._lock:
            self._conn.execute("UPDATE outbox SET sent = 1 WHERE seq = ?", (seq,))

    def mark_delivered(self, up_to_seq: int, sent_only: bool = False) -> int:
        """Everything up to and including ``up_to_seq`` is at the PLC (AckSeq is cumulative). ``sent_only``
        when the number comes from the PLC's memory after a reconnect: a stale or foreign AckSeq can then only
        confirm results that were really written to it, never skip new ones."""
        sql = "UPDATE outbox SET delivered_at = ? WHERE delivered_at IS NULL AND seq <= ?"
        with self._lock:
            cur = self._conn.execute(sql + (" AND sent = 1" if sent_only else ""), (time.time(), up_to_seq))
            return cur.rowcount

    def mark_pending_unsignalled(self) -> int:
        """The link dropped: every result not yet acknowledged missed its cycle; the PLC will be told."""
        with self._lock:
            cur = self._conn.execute(
                "UPDATE outbox SET link_up = 0 WHERE delivered_at IS NULL AND link_up = 1"
            )
            return cur.rowcount

    def unreported_unsignalled(self) -> list[OutboxEntry]:
        with self._lock:
            rows = self._conn.execute(
                "SELECT seq, part_id, verdict, result_code, defect_count, link_up FROM outbox"
                " WHERE link_up = 0 AND reported = 0 AND delivered_at IS NULL ORDER BY seq"
            ).fetchall()
        return [OutboxEntry(r[0], r[1], r[2], r[3], r[4], False) for r in rows]

    def mark_reported(self, seqs: list[int]) -> None:
        with self._lock:
            self._conn.executemany("UPDATE outbox SET reported = 1 WHERE seq = ?", [(s,) for s in seqs])

    def unsignalled_pending(self) -> int:
        """Results produced while the link was down that the PLC has not taken yet."""
        with self._lock:
            return self._conn.execute(
                "SELECT count(*) FROM outbox WHERE link_up = 0 AND delivered_at IS NULL"
            ).fetchone()[0]

    def unsignalled_total(self) -> int:
        with self._lock:
            return self._conn.execute("SELECT count(*) FROM outbox WHERE link_up = 0").fetchone()[0]

    def prune(self, keep_delivered: int = 10_000) -> None:
        """Delivered rows are history only; keep the newest ones for diagnosis."""
        with self._lock:
            self._conn.execute(
                "DELETE FROM outbox WHERE delivered_at IS NOT NULL AND seq < ("
                " SELECT coalesce(min(seq), 0) FROM (SELECT seq FROM outbox WHERE delivered_at IS NOT NULL"
                " ORDER BY seq DESC LIMIT ?))",
                (keep_delivered,),
            )

    def close(self) -> None:
        with self._lock:
            self._conn.close()
