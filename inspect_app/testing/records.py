"""Read what a station recorded, for tests and benchmarks: read-only, like every reader of the DB."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from inspect_app.config import StationConfig


def rows(cfg: StationConfig, sql: str = "select * from inspections order by id") -> list[sqlite3.Row]:
    conn = sqlite3.connect(f"file:{Path(cfg.state_dir) / cfg.store.db}?mode=ro", uri=True)
    conn.row_factory = sqlite3.Row
    try:
        return conn.execute(sql).fetchall()
    finally:
        conn.close()


def event_messages(cfg: StationConfig) -> list[str]:
    return [r["message"] for r in rows(cfg, "select message from events order by id")]
