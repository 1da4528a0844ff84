"""Review and audit rows on their way through the store's writer thread.

They travel like status events (a deque the writer drains into its next transaction), but the caller gets
a future: the UI shows "saved" only once the row is committed, and a review of an inspection that does
not exist is refused on its own without failing the batch it was committed with.
"""

from __future__ import annotations

import sqlite3
from concurrent.futures import Future
from dataclasses import dataclass

from inspect_app.store import schema


@dataclass(frozen=True, slots=True)
class AdminRow:
    entry: schema.Review | schema.AuditEntry
    done: Future  # -> row id, or the exception that refused the row


def write_admin(conn: sqlite3.Connection, entry: schema.Review | schema.AuditEntry) -> int | Exception:
    """Insert one row inside the writer's open transaction; an unknown inspection id is returned as a
    StoreError instead of raised, so the rest of the transaction still commits."""
    if isinstance(entry, schema.Review):
        # checked inside the transaction, so a review of a row committed in this same batch is accepted
        found = conn.execute("SELECT 1 FROM inspections WHERE id = ?", (entry.inspection_id,)).fetchone()
        if found is None:
            return schema.StoreError(f"no inspection with id {entry.inspection_id}")
        table, columns = "reviews", schema.REVIEW_COLUMNS
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
