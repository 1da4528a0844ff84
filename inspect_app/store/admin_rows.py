"""Review and audit rows on their way through the store's writer thread.

They travel like status events (a deque the writer drains into its next transaction), but the caller gets
a future: the UI shows "saved" only once the row is committed, and a review of an inspection that does
not exist is refused on its own without failing the batch it was committed with.
"""

from __future__ import annotations

import sqlite3
from concurrent.futures import Future
from dataclasses import dataclass
from pathlib import Path

from inspect_app.store import schema


@dataclass(frozen=True, slots=True)
class AdminRow:
    entry: schema.Review | schema.AuditEntry | schema.ShadowResult
    done: Future  # -> row id, or the exception that refused the row


def write_admin(
    conn: sqlite3.Connection, entry: schema.Review | schema.AuditEntry | schema.ShadowResult
) -> int | Exception:
    """Insert one row inside the writer's open transaction; an unknown inspection id is returned as a
    StoreError instead of raised, so the rest of the transaction still commits."""
    if isinstance(entry, schema.Review):
        # checked inside the transaction, so a review of a row committed in this same batch is accepted
        found = conn.execute("SELECT 1 FROM inspections WHERE id = ?", (entry.inspection_id,)).fetchone()
        if found is None:
            return schema.StoreError(f"no inspection with id {entry.inspection_id}")
        table, columns = "reviews", schema.REVIEW_COLUMNS
    elif isinstance(entry, schema.ShadowResult):
        table, columns = "shadow_results", schema.SHADOW_COLUMNS
    else:
        table, columns = "audit", schema.AUDIT_COLUMNS
    sql = f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({', '.join('?' * len(columns))})"
    return int(conn.execute(sql, entry.row()).lastrowid or 0)


def resolve(rows: list[AdminRow], outcomes: list[int | Exception]) -> None:
    for row, outcome in zip(rows, outcomes, strict=True):
        if row.done.done():
            continue
        if isinstance(outcome, Exception):
            row.done.set_exception(outcome)
        else:
            row.done.set_result(outcome)


def append_audit(db_path: str | Path, entry: schema.AuditEntry) -> int:
    """An audit row written by a command outside the station process (``models promote``/``rollback``).

    A short transaction on its own connection, beside the station's writer if one runs (WAL: SQLite's lock
    orders the two writers; the busy timeout waits out the station's commit). The schema is brought up to
    date first, so a promotion before the station's first start is still audited."""
    conn = schema.connect_writer(db_path)
    try:
        schema.migrate(conn)
        conn.execute("BEGIN IMMEDIATE")
        try:
            row_id = write_admin(conn, entry)
            conn.execute("COMMIT")
        except BaseException:
            conn.execute("ROLLBACK")
            raise
    finally:
        conn.close()
    assert isinstance(row_id, int)
    return row_id
