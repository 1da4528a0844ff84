"""The results journal: where results go when the database cannot take them, until the next start.

When the station stops and the results DB still cannot commit (a full disk, an I/O error) within the store's
``flush_timeout_s``, or when the writer thread has died, the queued inspections and events are appended here
as JSON lines, each line fsynced, rows exactly as they would have been inserted. The next start imports the
journal in one transaction before it takes any new result, then deletes it; a result already in the DB (a
crash between that commit and the delete) is recognised by station, part id and capture time and skipped.

Journaled results were never signalled to a PLC: they were not committed when their part was on the line.
Their rows say so (``timings.journaled``), and they are imported without going through commit listeners.
"""

from __future__ import annotations

import json
import logging
import os
import sqlite3
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

from inspect_app.store import schema
from inspect_app.store.images import write_durably

log = logging.getLogger(__name__)

JOURNAL_NAME = "results.journal.jsonl"
_ROW = schema.INSPECTION_COLUMNS[1:]  # every column but the id, which the import assigns
_DET = schema.DETECTION_COLUMNS[1:]


@dataclass(frozen=True, slots=True)
class ImportReport:
    inspections: int
    events: int
    skipped: int  # already in the DB


class Journal:
    def __init__(self, path: Path, on_full: Callable[[], bool] | None = None) -> None:
        self.path = path
        self.on_full = on_full  # frees space (the DB reserve) and says whether it did

    def append(self, rows: Iterable[tuple[tuple, list[tuple]]], events: Iterable[tuple] = ()) -> int:
        """Append inspection rows (``(row, detections)`` as ``schema.inspection_rows`` makes them; the id and
        inspection_id fields are ignored) and event rows. Durable when it returns; returns the number of
        inspections written."""
        lines = [json.dumps({"row": list(row[1:]), "detections": [list(d[1:]) for d in dets]}, default=str)
                 for row, dets in rows]  # fmt: skip
        n = len(lines)
        lines += [json.dumps({"event": list(e)}, default=str) for e in events]
        if not lines:
            return 0
        data = ("\n".join(lines) + "\n").encode()
        try:
            self._write(data)
        except OSError:
            if self.on_full is None or not self.on_full():
                raise
            self._write(data)  # once more, in the space the reserve held
        return n

    def _write(self, data: bytes) -> None:
        write_durably(self.path, data, os.O_CREAT | os.O_APPEND)

    def import_into(self, conn: sqlite3.Connection, next_id: int) -> ImportReport | None:
        """Insert what the journal holds (one transaction), then delete it. None when there is none."""
        if not self.path.exists():
            return None
        records = []
        with open(self.path, "rb") as f:
            for n, line in enumerate(f, 1):
                try:
                    records.append(json.loads(line))
                except ValueError:  # a line torn by a crash mid-append: the lines before it are whole
                    log.warning("journal %s: line %d unreadable, skipped", self.path, n)
        inspections = events = skipped = 0
        conn.execute("BEGIN IMMEDIATE")
        try:
            for rec in records:
                if "event" in rec:
                    conn.execute(
                        f"INSERT INTO events ({', '.join(schema.EVENT_COLUMNS)}) VALUES "
                        f"({', '.join('?' * len(schema.EVENT_COLUMNS))})", rec["event"],
                    )  # fmt: skip
                    events += 1
                    continue
                row = dict(zip(_ROW, rec["row"], strict=True))
                exists = conn.execute(
                    "SELECT 1 FROM inspections WHERE station = ? AND part_id = ? AND epoch = ? LIMIT 1",
                    (row["station"], row["part_id"], row["epoch"]),
                ).fetchone()
                if exists:
                    skipped += 1
                    continue
                conn.execute(
                    f"INSERT INTO inspections ({', '.join(schema.INSPECTION_COLUMNS)}) VALUES "
                    f"({', '.join('?' * len(schema.INSPECTION_COLUMNS))})", (next_id, *rec["row"]),
                )  # fmt: skip
                conn.executemany(
                    f"INSERT INTO detections ({', '.join(schema.DETECTION_COLUMNS)}) VALUES "
                    f"({', '.join('?' * len(schema.DETECTION_COLUMNS))})",
                    [(next_id, *d) for d in rec["detections"]],
                )  # fmt: skip
                next_id += 1
                inspections += 1
            conn.execute("COMMIT")
        except BaseException:
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            raise
        os.unlink(self.path)
        return ImportReport(inspections, events, skipped)
