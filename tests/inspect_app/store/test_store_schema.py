"""Schema creation, migrations bookkeeping and connection helpers."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from inspect_app.config import StoreConfig
from inspect_app.store import (
    SCHEMA_VERSION,
    ImageArchive,
    SqliteResultStore,
    StoreError,
    migrate,
    open_readonly,
)
from inspect_app.store.schema import connect_writer


def test_migrate_creates_tables_indexes_and_is_idempotent(tmp_path: Path) -> None:
    conn = connect_writer(tmp_path / "r.db")
    assert migrate(conn) == 0
    assert migrate(conn) == SCHEMA_VERSION  # second run: nothing to do
    names = {r[0] for r in conn.execute("SELECT name FROM sqlite_master")}
    assert {"inspections", "detections", "events", "schema_version"} <= names
    assert {"idx_inspections_time", "idx_inspections_verdict", "idx_inspections_part_id",
            "idx_detections_inspection_id"} <= names  # fmt: skip
    assert conn.execute("SELECT count(*) FROM schema_version").fetchone()[0] == SCHEMA_VERSION
    assert not conn.in_transaction


def test_newer_schema_is_refused(tmp_path: Path) -> None:
    conn = connect_writer(tmp_path / "r.db")
    migrate(conn)
    conn.execute("INSERT INTO schema_version VALUES (?, 'x', 'from the future')", (SCHEMA_VERSION + 1,))
    conn.close()
    cfg = StoreConfig()
    store = SqliteResultStore(tmp_path / "r.db", ImageArchive(tmp_path / "images", cfg), cfg, "st")
    with pytest.raises(StoreError, match="newer"):
        store.start()
    with pytest.raises(StoreError):
        store.submit(None)  # type: ignore[arg-type]  # the writer never started


def test_submit_before_start_and_readonly_of_missing_file(tmp_path: Path) -> None:
    cfg = StoreConfig()
    store = SqliteResultStore(tmp_path / "r.db", ImageArchive(tmp_path / "images", cfg), cfg, "st")
    with pytest.raises(StoreError, match="not started"):
        store.submit(None)  # type: ignore[arg-type]
    with pytest.raises(StoreError):
        open_readonly(tmp_path / "missing.db")
    assert not (tmp_path / "missing.db").exists()
    store.start()
    store.close()
    with pytest.raises(sqlite3.OperationalError):
        open_readonly(tmp_path / "r.db").execute("INSERT INTO events (time, epoch, kind, severity, message)"
                                                 " VALUES ('t', 0, 'k', 'info', 'm')")  # fmt: skip
