"""SqliteResultStore: one writer thread owns the only writable connection.

Flow of one inspection: ``submit`` (bounded queue, blocks when full) -> writer thread takes a batch ->
images written (atomically, before the rows) -> one transaction for the whole batch -> commit listeners
called with a ``CommittedInspection`` per row, in submission order. Only then is a part "done": the
pipeline signals the PLC from a commit listener, so a verdict is never reported that a crash could lose.

A batch is committed as soon as the queue is momentarily empty, ``batch_size`` is reached or
``commit_interval_ms`` has passed since its first item: a lone inspection never waits for company.

A failing commit (disk full, I/O error) is retried with backoff while the batch stays in memory; the
writer takes nothing more from the queue meanwhile, so the queue fills and ``submit`` blocks: back-pressure
the pipeline's supervisor sees as a stall. ``healthy`` is False and an error event goes to the event
listeners until a commit succeeds again.
"""

from __future__ import annotations

import collections
import contextlib
import logging
import queue
import sqlite3
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future
from dataclasses import dataclass
from pathlib import Path

from inspect_app.config import StoreConfig
from inspect_app.store import schema
from inspect_app.store.admin_rows import AdminRow, resolve, write_admin
from inspect_app.store.images import ImageArchive, ImageJob, SavedImage, folder_epoch_range
from inspect_app.store.retention import DiskGuard
from inspect_app.types import CommittedInspection, Inspection, Severity, StatusEvent

log = logging.getLogger(__name__)

CommitListener = Callable[[CommittedInspection], None]
EventListener = Callable[[StatusEvent], None]

_WAKE = object()  # queue token: "look at the event deque / stop flag now"
_MAX_EVENTS = 10_000  # status events waiting for the writer; beyond this the oldest are dropped (counted)
_BACKOFF_MAX_S = 2.0
_IDLE_WAIT_S = 0.25  # longest the idle writer sleeps before looking at the disk again
_LOG_LEVEL = {Severity.INFO: logging.INFO, Severity.WARNING: logging.WARNING, Severity.ERROR: logging.ERROR}


@dataclass(slots=True)
class _Pending:
    """An inspection on its way into the DB; image work is done once, even if the commit is retried."""

    inspection: Inspection
    inspection_id: int
    submitted_mono: float
    row: tuple | None = None
    detections: list[tuple] | None = None
    image_path: str | None = None


class SqliteResultStore:
    """The station's ``ResultStore``. Thread-safe: ``submit``/``record_event`` from any thread.

    Listeners run in the writer thread and must be fast (no I/O that can block, no waiting on other
    stages): every millisecond there delays the next commit. They must not call ``submit`` or ``close``
    (the writer would wait on itself); ``record_event`` is fine. Add them before ``start()``: start-up
    events (orphan cleanup) are emitted during it. An exception in a listener is logged and reported as
    an error event; it does not undo the commit.
    """

    def __init__(self, db_path: str | Path, images: ImageArchive, config: StoreConfig, station: str) -> None:
        self.db_path = Path(db_path)
        self.images = images
        self.config = config
        self.station = station
        self._queue: queue.Queue = queue.Queue(maxsize=config.queue_size)
        self._events: collections.deque[StatusEvent] = collections.deque()
        self._events_dropped = 0
        self._admin: collections.deque[AdminRow] = collections.deque()  # reviews and audit rows
        self._admin_closed = False  # the writer has exited: an admin row queued now would never resolve
        self._lock = threading.Lock()
        self._commit_listeners: list[CommitListener] = []
        self._event_listeners: list[EventListener] = []
        self._counts = {"total": 0, "pass": 0, "fail": 0, "not_inspected": 0}
        self._thread: threading.Thread | None = None
        self._ready = threading.Event()
        self._start_error: BaseException | None = None
        self._closing = False
        self._inflight = 0  # submit() calls past the closed check: close() must wait for their items
        self._abandon = False
        self._healthy = True
        self._next_id = 1
        self.pragmas: dict[str, object] = {}  # read back from the writer's own connection at start
        self.guard = DiskGuard(images, config.retention, self._emit)

    # ------------------------------------------------------------ public API
    @property
    def healthy(self) -> bool:
        """False while commits fail or after the writer thread died."""
        return self._healthy

    @property
    def saving_images(self) -> bool:
        return self.guard.saving

    def add_commit_listener(self, listener: CommitListener) -> None:
        with self._lock:
            self._commit_listeners.append(listener)

    def add_event_listener(self, listener: EventListener) -> None:
        """Receives the store's own events (db errors, disk alarms, retention, orphan cleanup)."""
        with self._lock:
            self._event_listeners.append(listener)

    def start(self) -> None:
        """Open/migrate the DB, remove orphan images, start the writer. Raises StoreError/sqlite3.Error."""
        if self._thread is not None:
            raise schema.StoreError("store already started")
        self._thread = threading.Thread(target=self._run, name="store-writer", daemon=True)
        self._thread.start()
        self._ready.wait()
        if self._start_error is not None:
            self._thread.join()
            raise self._start_error

    def submit(self, inspection: Inspection) -> None:
        """Queue for commit; blocks while the queue is full. Raises StoreClosed after close()."""
        if self._thread is None:
            raise schema.StoreError("store not started")
        with self._lock:
            if self._closing:
                raise schema.StoreClosed("results store is closed")
            self._inflight += 1
        item = (inspection, time.monotonic())
        try:
            while True:
                if not self._thread.is_alive() or self._abandon:
                    raise schema.StoreError("results store writer has stopped")
                try:
                    self._queue.put(item, timeout=0.5)
                    return
                except queue.Full:
                    continue
        finally:
            with self._lock:
                self._inflight -= 1

    def record_event(self, event: StatusEvent) -> None:
        """Persist a status event with the next batch. Never blocks."""
        with self._lock:
            if len(self._events) >= _MAX_EVENTS:
                self._events.popleft()
                self._events_dropped += 1
            self._events.append(event)
        self._wake()

    def record_review(self, review: schema.Review) -> Future:
        """Persist an operator's review with the next commit. Never blocks; the returned future gets the
        row id after the commit, or StoreError when the inspection does not exist (that review alone is
        refused). Raises StoreClosed after close()."""
        if review.kind not in schema.REVIEW_KINDS:
            kinds = ", ".join(schema.REVIEW_KINDS)
            raise ValueError(f"review kind must be one of {kinds}, not {review.kind!r}")
        return self._queue_admin(review)

    def record_audit(self, entry: schema.AuditEntry) -> Future:
        """Persist an audit row with the next commit; like record_review (future -> row id)."""
        return self._queue_admin(entry)

    def _queue_admin(self, entry: schema.Review | schema.AuditEntry) -> Future:
        done: Future = Future()
        with self._lock:
            if self._closing or self._admin_closed or self._thread is None or not self._thread.is_alive():
                raise schema.StoreClosed("results store is not running")
            self._admin.append(AdminRow(entry, done))
        self._wake()
        return done

    def counts(self) -> dict[str, int]:
        """Committed rows: total, pass, fail, not_inspected (in memory, no query)."""
        with self._lock:
            return dict(self._counts)

    def close(self, timeout: float = 30.0) -> None:
        """Commit everything queued, then close. Raises StoreError if that did not finish in time (the
        rows not committed were never reported to listeners)."""
        with self._lock:
            self._closing = True
        thread = self._thread
        if thread is None or not thread.is_alive():
            return
        self._wake()
        thread.join(timeout)
        if thread.is_alive():
            self._abandon = True  # stop retrying a failing commit
            self._wake()
            thread.join(5.0)
            raise schema.StoreError(
                f"results store did not flush within {timeout:g} s; "
                f"about {self._queue.qsize()} queued inspections were not committed"
            )

    # ------------------------------------------------------------ writer thread
    def _wake(self) -> None:
        with contextlib.suppress(queue.Full):  # a full queue wakes the writer anyway
            self._queue.put_nowait(_WAKE)

    def _emit(self, event: StatusEvent) -> None:
        """The store's own events: to listeners now (the DB may be the thing that is broken), to the
        events table with the next commit."""
        log.log(_LOG_LEVEL.get(event.severity, logging.INFO), "%s", event.message)
        self.record_event(event)
        with self._lock:
            listeners = list(self._event_listeners)
        for listener in listeners:
            try:
                listener(event)
            except Exception:  # listener boundary: someone else's bug must not stop the writer
                log.exception("store event listener failed")

    def _run(self) -> None:
        try:
            conn = self._open()
        except BaseException as exc:  # noqa: BLE001 -- start boundary: start() re-raises it in the caller
            self._start_error = exc
            self._ready.set()
            return
        self._ready.set()
        try:
            self._loop(conn)
        except BaseException as exc:  # thread boundary: a dead writer must be loud, not silent
            self._healthy = False
            log.exception("results store writer died")
            self._emit(StatusEvent("store", Severity.ERROR, f"results store writer died: {exc!r}", {}))
        finally:
            self._fail_admin(schema.StoreError("results store stopped before the row was committed"))
            conn.close()
            self.images.close()

    def _open(self) -> sqlite3.Connection:
        conn = schema.connect_writer(self.db_path)
        try:
            for name in ("journal_mode", "synchronous", "foreign_keys"):
                self.pragmas[name] = conn.execute(f"PRAGMA {name}").fetchone()[0]
            schema.migrate(conn)
            for verdict, n in conn.execute("SELECT verdict, count(*) FROM inspections GROUP BY verdict"):
                key = str(verdict).lower()
                if key in self._counts:
                    self._counts[key] = n
                self._counts["total"] += n
            self._next_id = conn.execute("SELECT coalesce(max(id), 0) + 1 FROM inspections").fetchone()[0]
            report = self.images.cleanup_orphans(lambda folder: self._referenced(conn, folder))
        except BaseException:
            conn.close()
            raise
        if report.images or report.temp_files:
            self._emit(
                StatusEvent(
                    "store", Severity.WARNING,
                    f"removed {report.images} image(s) without a row and {report.temp_files} temp file(s) "
                    "left by an interrupted run",
                    {"images": report.images, "temp_files": report.temp_files, "bytes": report.bytes,
                     "paths": list(report.paths[:50])},
                )
            )  # fmt: skip
        return conn

    @staticmethod
    def _referenced(conn: sqlite3.Connection, folder: str) -> set[str]:
        start, end = folder_epoch_range(folder)
        rows = conn.execute(
            "SELECT image_path FROM inspections WHERE time >= ? AND time < ?"
            " AND image_path IS NOT NULL AND image_deleted = 0",
            (schema.iso_utc(start - 86400), schema.iso_utc(end + 86400)),  # a day of slack either side
        )
        return {r[0] for r in rows}

    def _loop(self, conn: sqlite3.Connection) -> None:
        while True:
            items = self._collect()
            with self._lock:
                events = list(self._events)
                self._events.clear()
                dropped, self._events_dropped = self._events_dropped, 0
                admin = list(self._admin)
                self._admin.clear()
            if dropped:
                events.append(StatusEvent("store", Severity.WARNING, f"{dropped} status events dropped", {}))
            if (items or events or admin) and not self._commit(conn, items, events, admin):
                return  # abandoned by close()
            if (self._closing and self._inflight == 0 and self._queue.empty() and not self._events
                    and not self._admin):
                with contextlib.suppress(sqlite3.Error):  # a planner hint; the data is committed
                    conn.execute("PRAGMA optimize")
                return
            if not self._closing:
                self.guard.tick(conn)

    def _collect(self) -> list[_Pending]:
        wait = 0.0 if self._closing else min(_IDLE_WAIT_S, self.guard.seconds_until_due())
        try:
            first = self._queue.get(timeout=wait) if wait > 0 else self._queue.get_nowait()
        except queue.Empty:
            return []
        items: list[_Pending] = []
        deadline = time.monotonic() + self.config.commit_interval_ms / 1000.0
        item = first
        while True:
            if item is not _WAKE:
                insp, submitted = item
                items.append(_Pending(insp, self._next_id, submitted))
                self._next_id += 1
            if len(items) >= self.config.batch_size or time.monotonic() >= deadline:
                return items
            try:
                item = self._queue.get_nowait()
            except queue.Empty:
                return items  # momentarily empty: commit now, do not wait for the batch to fill

    def _commit(self, conn: sqlite3.Connection, items: list[_Pending], events: list[StatusEvent],
                admin: list[AdminRow]) -> bool:
        self._prepare(items)
        delay = 0.05
        while True:
            try:
                outcomes = self._write(conn, items, events, admin)
                break
            except (sqlite3.Error, OSError) as exc:
                if conn.in_transaction:
                    # SQLite may have rolled back already; the next BEGIN tells
                    with contextlib.suppress(sqlite3.Error):
                        conn.execute("ROLLBACK")
                if self._healthy:
                    self._healthy = False
                    self._emit(
                        StatusEvent("store", Severity.ERROR,
                                    f"results DB commit failed, retrying: {exc}",
                                    {"pending": len(items), "error": str(exc)})
                    )  # fmt: skip
                deadline = time.monotonic() + delay
                while time.monotonic() < deadline:
                    if self._abandon:
                        resolve(admin, [schema.StoreError("commit abandoned at close")] * len(admin))
                        return False
                    time.sleep(min(0.05, delay))
                delay = min(delay * 2, _BACKOFF_MAX_S)
        committed = time.monotonic()
        resolve(admin, outcomes)
        if not self._healthy:
            self._healthy = True
            self._emit(StatusEvent("store", Severity.INFO, "results DB commits succeed again", {}))
        with self._lock:
            for p in items:
                self._counts["total"] += 1
                self._counts[p.inspection.verdict.value.lower()] += 1
            listeners = list(self._commit_listeners)
        for p in items:
            result = CommittedInspection(p.inspection_id, p.inspection, p.image_path, committed)
            for listener in listeners:
                try:
                    listener(result)
                except Exception as exc:  # listener boundary: the row is committed whatever it does
                    log.exception("commit listener failed")
                    self._emit(StatusEvent("store", Severity.ERROR, f"commit listener failed: {exc!r}", {}))
        return True

    def _write(self, conn: sqlite3.Connection, items: list[_Pending], events: list[StatusEvent],
               admin: list[AdminRow]) -> list[int | Exception]:
        conn.execute("BEGIN IMMEDIATE")
        if items:
            conn.executemany(
                f"INSERT INTO inspections ({', '.join(schema.INSPECTION_COLUMNS)}) "
                f"VALUES ({', '.join('?' * len(schema.INSPECTION_COLUMNS))})",
                [p.row for p in items],
            )
            conn.executemany(
                f"INSERT INTO detections ({', '.join(schema.DETECTION_COLUMNS)}) "
                f"VALUES ({', '.join('?' * len(schema.DETECTION_COLUMNS))})",
                [d for p in items for d in p.detections or ()],
            )
        if events:
            conn.executemany(
                f"INSERT INTO events ({', '.join(schema.EVENT_COLUMNS)}) "
                f"VALUES ({', '.join('?' * len(schema.EVENT_COLUMNS))})",
                [schema.event_row(e) for e in events],
            )
        outcomes = [write_admin(conn, a.entry) for a in admin]
        conn.execute("COMMIT")
        return outcomes

    def _fail_admin(self, exc: Exception) -> None:
        with self._lock:
            self._admin_closed = True
            admin = list(self._admin)
            self._admin.clear()
        resolve(admin, [exc] * len(admin))

    # ------------------------------------------------------------ rows and images
    def _prepare(self, items: list[_Pending]) -> None:
        fresh = [p for p in items if p.row is None]  # a retried batch keeps its images and rows
        notes: list[dict] = [{} for _ in fresh]
        shas: list[str | None] = [None] * len(fresh)
        want = [k for k, p in enumerate(fresh) if p.inspection.image is not None
                and self.images.wants(p.inspection.verdict)]  # fmt: skip
        if want and not self.guard.may_save():
            for k in want:
                notes[k]["image_not_saved"] = "image saving stopped (disk nearly full)"
        elif want:
            jobs = [
                ImageJob(fresh[k].inspection.image, fresh[k].inspection.verdict,  # type: ignore[arg-type]
                         f"{fresh[k].inspection_id:010d}_{fresh[k].inspection.part_id}",
                         fresh[k].inspection.captured_at)
                for k in want
            ]  # fmt: skip
            for k, result in zip(want, self.images.save_batch(jobs), strict=True):
                if isinstance(result, SavedImage):
                    fresh[k].image_path, shas[k] = result.path, result.sha256
                    self.guard.on_save_ok()
                elif isinstance(result, OSError):
                    notes[k]["image_not_saved"] = f"write failed: {result.strerror or result}"
                    self.guard.on_save_error(result)
                else:
                    notes[k]["image_not_saved"] = str(result)
        for k, p in enumerate(fresh):
            record_ms = (time.monotonic() - p.submitted_mono) * 1000.0  # queue wait plus image write
            p.row, p.detections = schema.inspection_rows(
                p.inspection, p.inspection_id, self.station, p.image_path, shas[k], notes[k], record_ms
            )
