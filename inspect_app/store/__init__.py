"""Results store: SQLite (WAL, one writer thread) for every inspection, plus the reject-image archive.

Wiring (the lead's pipeline)::

    images = ImageArchive(state_dir / cfg.store.images_dir, cfg.store, base=state_dir)
    store = SqliteResultStore(state_dir / cfg.store.db, images, cfg.store, station=cfg.station.name)
    store.add_commit_listener(signal_stage.on_result)   # before start(): runs in the writer thread
    store.add_event_listener(bus.publish)               # db errors, disk alarms, retention, orphans
    store.start()
    ...
    store.close(timeout=30)

Readers (UI, reports, datasette) use ``open_readonly(db_path)``.
"""

from inspect_app.store.images import FileOps, ImageArchive, ImageEncodeError, OrphanReport, SavedImage
from inspect_app.store.schema import (
    SCHEMA_VERSION,
    AuditEntry,
    Review,
    StoreClosed,
    StoreError,
    migrate,
    open_readonly,
)
from inspect_app.store.writer import CommitListener, EventListener, SqliteResultStore

__all__ = [
    "SCHEMA_VERSION",
    "AuditEntry",
    "CommitListener",
    "EventListener",
    "FileOps",
    "ImageArchive",
    "ImageEncodeError",
    "OrphanReport",
    "Review",
    "SavedImage",
    "SqliteResultStore",
    "StoreClosed",
    "StoreError",
    "migrate",
    "open_readonly",
]
