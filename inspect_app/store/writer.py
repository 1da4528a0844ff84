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
listeners until a commit succeeds again. A commit that fails for want of space first releases the DB's
space reserve (``reserve.py``) and is retried at once: the alarm and the rows of parts not inspected still
commit, and ``problem()`` says DISK_FULL until the reserve can be made again.

Nothing queued is lost: ``submit(block=False)`` (triggers refused on a PLC's event loop) never blocks and
never drops; what cannot be committed by ``close()`` within its timeout, or is submitted after the writer
died, goes to the journal (``journal.py``) that the next start imports.
"""

from __future__ import annotations

import collections
import contextlib
import errno
import json
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
from inspect_app.health import ComponentHealth
from inspect_app.model_release import sha256_file
from inspect_app.stages import StageMonitor
from inspect_app.store import schema
from inspect_app.store.admin_rows import AdminRow, resolve, write_admin
from inspect_app.store.images import ImageArchive, ImageJob, SavedImage, folder_epoch_range
from inspect_app.store.journal import JOURNAL_NAME, Journal
from inspect_app.store.reserve import JOURNAL_RESERVE_NAME, MB, SpaceReserve
from inspect_app.store.retention import DiskGuard
from inspect_app.types import CommittedInspection, Inspection, Severity, StatusEvent
from inspect_app.workers import Watch

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
    job: ImageJob | None = None  # the image to write after the commit


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
        self._overflow: collections.deque[tuple[Inspection, float]] = collections.deque()  # block=False
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
        self._journal_error: str | None = None
        self._image_updates: list[tuple[int, str | None, str | None]] = []  # (id, sha256, why not saved)
        self._healthy = True
        self._next_id = 1
        self.pragmas: dict[str, object] = {}  # read back from the writer's own connection at start
        self.monitor = StageMonitor("record")
        # a quarter (at most 4 MB: some 8,000 results) is kept for the journal, the rest for the DB
        journal_mb = min(config.reserve_mb / 4, 4.0)
        self.reserve = SpaceReserve(self.db_path.parent, config.reserve_mb - journal_mb)
        self.journal_reserve = SpaceReserve(self.db_path.parent, journal_mb, JOURNAL_RESERVE_NAME)
        self.journal = Journal(self.db_path.parent / JOURNAL_NAME, on_full=self.journal_reserve.release)
        self.journaled = 0  # results written to the journal by this store
        self._last_error = ""
        self.guard = DiskGuard(images, config.retention, self._emit,
                               reserves=(self.reserve, self.journal_reserve),
                               on_reserve_back=self._reserve_back)  # fmt: skip

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

    def submit(self, inspection: Inspection, block: bool = True) -> None:
        """Queue for commit. ``block``: wait while the queue is full (back-pressure for the pipeline's own
        stages); False: never wait, a full queue spills into an unbounded side queue (for callers that must
        not block, such as a PLC's event loop). After the writer died, the result goes to the journal.
        Raises StoreClosed after close()."""
        if self._thread is None or self._start_error is not None:
            raise schema.StoreError("store not started")
        with self._lock:
            if self._closing:
                raise schema.StoreClosed("results store is closed")
            self._inflight += 1
        item = (inspection, time.monotonic())
        try:
            while True:
                if not self._thread.is_alive() or self._abandon:
                    self._journal_direct([item])
                    return
                try:
                    if block:
                        self._queue.put(item, timeout=0.5)
                    else:
                        self._queue.put_nowait(item)
                    return
                except queue.Full:
                    if not block:
                        with self._lock:
                            self._overflow.append(item)
                        return
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

    def record_shadow(self, result: schema.ShadowResult) -> Future:
        """Persist a shadow model's verdict on a live part with the next commit (its own table, flagged)."""
        return self._queue_admin(result)

    def _queue_admin(self, entry: schema.Review | schema.AuditEntry | schema.ShadowResult) -> Future:
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
        """Commit everything queued, then close. What cannot be committed within ``timeout`` (commits keep
        failing) is written to the journal, which the next start imports. Raises StoreError only when
        even that failed (the message says how many results were lost); rows not committed were never
        reported to listeners."""
        with self._lock:
            self._closing = True
        thread = self._thread
        if thread is None or not thread.is_alive():
            return
        self._wake()
        thread.join(timeout)
        if thread.is_alive():
            self._abandon = True  # stop retrying a failing commit: the writer journals what it holds
            self._wake()
            thread.join(10.0)
        if self._journal_error:
            raise schema.StoreError(self._journal_error)
        if thread.is_alive():
            raise schema.StoreError(f"results store writer did not finish within {timeout + 10:g} s")

    # ------------------------------------------------------------ health
    def watch(self) -> Watch:
        """The writer thread for the station's supervisor: alive, and not stuck on one batch."""
        return Watch("record", lambda: bool(self._thread and self._thread.is_alive()), self.monitor.stuck_for)

    def problem(self) -> tuple[str, str] | None:
        """(error code, why) while the store cannot do its job; None when it can."""
        if self._thread is not None and not self._thread.is_alive() and not self._closing:
            return "STORE_ERROR", "results store writer has stopped; results go to the journal"
        if self.reserve.released:
            return "DISK_FULL", (
                f"disk full under the results DB ({self.guard.free_mb():.0f} MB free): running on the DB "
                f"reserve; parts are not inspected until {self.guard.reserve_resume_mb():.0f} MB are free"
            )
        if not self._healthy:
            return "STORE_ERROR", f"results DB commits failing: {self._last_error}"
        return None

    def health(self) -> tuple[ComponentHealth, ComponentHealth]:
        """(database, disk) for the health snapshot."""
        problem = self.problem()
        counts = self.counts()
        db = ComponentHealth(
            problem is None, "ok" if problem is None else problem[0].lower(),
            problem[1] if problem else f"{counts['total']} results; {self.db_path.name}",
        )  # fmt: skip
        free = self.guard.free_mb()
        if self.reserve.released:
            disk = ComponentHealth(False, "full", f"{free:.0f} MB free; DB reserve in use")
        elif not self.guard.saving:
            disk = ComponentHealth(False, "low", f"{free:.0f} MB free; images not saved")
        elif self.reserve.enabled and not self.reserve.held:
            disk = ComponentHealth(False, "low", f"{free:.0f} MB free; no room for the DB reserve")
        else:
            disk = ComponentHealth(True, "ok", f"{free:.0f} MB free")
        return db, disk

    # ------------------------------------------------------------ space and journal
    def _release_reserve(self) -> bool:
        released = self.reserve.release()
        if released:
            self._emit(
                StatusEvent("disk", Severity.ERROR,
                            f"disk full: the results DB's reserve of {self.reserve.size / MB:.0f} MB was "
                            "released so that alarms and results still commit; free space on the volume",
                            {"reserve_mb": round(self.reserve.size / MB, 1)})
            )  # fmt: skip
        return released

    def _reserve_back(self) -> None:
        self._emit(StatusEvent("disk", Severity.INFO, "results DB reserve made again: disk not full", {}))

    def _journal_direct(self, items: list[tuple[Inspection, float]]) -> None:
        """The writer is gone: the results go straight to the journal (raises StoreError if they cannot)."""
        rows = [
            schema.inspection_rows(insp, 0, self.station, None, None,
                                   {"journaled": "results store writer had stopped"}, 0.0)
            for insp, _ in items
        ]  # fmt: skip
        with self._lock:
            try:
                self.journaled += self.journal.append(rows)
            except OSError as exc:
                msg = f"results store writer has stopped and the journal failed: {exc}"
                raise schema.StoreError(msg) from None


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
            self._counts_from_db(conn)
            self._next_id = conn.execute("SELECT coalesce(max(id), 0) + 1 FROM inspections").fetchone()[0]
            imported = self.journal.import_into(conn, self._next_id)
            if imported is not None:
                self._next_id += imported.inspections
                self._counts_from_db(conn)
            self._repair_pending_images(conn)
            report = self.images.cleanup_orphans(lambda folder: self._referenced(conn, folder))
        except BaseException:
            conn.close()
            raise
        if imported is not None:
            self._emit(
                StatusEvent("store", Severity.WARNING,
                            f"imported {imported.inspections} result(s) and {imported.events} event(s) from "
                            f"the journal of a run whose DB could not commit ({imported.skipped} already "
                            "present); they were never signalled to a PLC",
                            {"inspections": imported.inspections, "events": imported.events,
                             "skipped": imported.skipped})
            )  # fmt: skip
        self.journal_reserve.ensure(self.guard.free_bytes(), margin=0)
        if not self.reserve.ensure(self.guard.free_bytes(), margin=0):
            self._emit(
                StatusEvent("disk", Severity.WARNING,
                            f"no room for the results DB reserve of {self.reserve.size / MB:.0f} MB "
                            f"({self.guard.free_mb():.0f} MB free): a full disk could stop results being "
                            "recorded",
                            {"free_mb": round(self.guard.free_mb(), 1)})
            )  # fmt: skip
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

    def _counts_from_db(self, conn: sqlite3.Connection) -> None:
        self._counts = {"total": 0, "pass": 0, "fail": 0, "not_inspected": 0}
        for verdict, n in conn.execute("SELECT verdict, count(*) FROM inspections GROUP BY verdict"):
            key = str(verdict).lower()
            if key in self._counts:
                self._counts[key] = n
            self._counts["total"] += n

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
            if items or events or admin or self._image_updates:
                self.monitor.begin(items[0].inspection.part_id if items else None)
                try:
                    committed = self._commit(conn, items, events, admin)
                finally:
                    self.monitor.end()
                if not committed:  # abandoned by close(): what is held goes to the journal
                    self._journal_rest(items, events)
                    return
            if (self._closing and self._inflight == 0 and self._queue.empty() and not self._events
                    and not self._admin and not self._overflow and not self._image_updates):
                with contextlib.suppress(sqlite3.Error):  # a planner hint; the data is committed
                    conn.execute("PRAGMA optimize")
                return
            if not self._closing:
                self.guard.tick(conn)

    def _collect(self) -> list[_Pending]:
        items: list[_Pending] = []
        with self._lock:
            while self._overflow and len(items) < self.config.batch_size:
                insp, submitted = self._overflow.popleft()
                items.append(_Pending(insp, self._next_id, submitted))
                self._next_id += 1
        if items:
            return items
        wait = 0.0 if self._closing else min(_IDLE_WAIT_S, self.guard.seconds_until_due())
        try:
            first = self._queue.get(timeout=wait) if wait > 0 else self._queue.get_nowait()
        except queue.Empty:
            return []
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
                self._last_error = str(exc)
                if self._is_disk_full(exc) and (self._release_reserve() | self._shrink_wal(conn)):
                    continue  # at once, into the space just freed
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
        self._image_updates.clear()  # they were in this transaction
        if self.reserve.released:
            self._shrink_wal(conn)  # on the reserve, the WAL must not grow with every commit
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
        self._write_images(items)  # after the PLC and the window have the verdict
        return True

    def _shrink_wal(self, conn: sqlite3.Connection) -> bool:
        """Fold the WAL into the DB and truncate it. The WAL holds every version of the pages each commit
        touched (a handful per batch), the DB each page once: on a full disk this gives back most of the WAL,
        so rows keep committing in the space the reserve gave. True when the WAL got smaller."""
        wal = self.db_path.with_name(self.db_path.name + "-wal")
        try:
            before = wal.stat().st_size
            conn.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchone()
            return wal.stat().st_size < before
        except (sqlite3.Error, OSError):
            return False

    def _is_disk_full(self, exc: BaseException) -> bool:
        code = getattr(exc, "sqlite_errorcode", None)
        if code == sqlite3.SQLITE_FULL or getattr(exc, "errno", None) == errno.ENOSPC:
            return True
        # an I/O error while appending to the WAL is how some file systems report a full disk
        return (code is not None and code & 0xFF == sqlite3.SQLITE_IOERR
                and self.guard.free_mb() * MB < 1.5 * max(self.reserve.size, MB))  # fmt: skip

    def _journal_rest(self, batch: list[_Pending], events: list[StatusEvent]) -> None:
        """At an abandoned close: the batch in hand, everything still queued and the pending events go to
        the journal. Their images were written already (the rows that the journal holds point to them)."""
        why = "not committed at shutdown"
        rows = [(_noted(p.row, why), p.detections or []) for p in batch if p.row is not None]
        rows += [
            schema.inspection_rows(p.inspection, 0, self.station, p.image_path, None,
                                   {"journaled": "not committed at shutdown"}, 0.0)
            for p in batch if p.row is None
        ]  # fmt: skip
        pending: list[tuple[Inspection, float]] = []
        with self._lock:
            pending.extend(self._overflow)
            self._overflow.clear()
            events = [*events, *self._events]
            self._events.clear()
        while True:
            try:
                item = self._queue.get_nowait()
            except queue.Empty:
                break
            if item is not _WAKE:
                pending.append(item)
        rows += [
            schema.inspection_rows(insp, 0, self.station, None, None,
                                   {"journaled": "not committed at shutdown"}, 0.0)
            for insp, _ in pending
        ]  # fmt: skip
        try:
            self.journaled += self.journal.append(rows, [schema.event_row(e) for e in events])
        except OSError as exc:
            self._journal_error = (
                f"results DB could not commit and the journal {self.journal.path} failed ({exc}): "
                f"{len(rows)} results lost: " + ", ".join(str(r[0][7]) for r in rows[:20])
            )
            log.critical("%s", self._journal_error)
            return
        log.warning("results DB could not commit: %d results written to %s; the next start imports them",
                    len(rows), self.journal.path)  # fmt: skip

    def _write(self, conn: sqlite3.Connection, items: list[_Pending], events: list[StatusEvent],
               admin: list[AdminRow]) -> list[int | Exception]:
        conn.execute("BEGIN IMMEDIATE")
        self._apply_image_updates(conn)
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
        """Rows for the batch. A wanted image gets its path now and is written after the commit (see
        ``_write_images``): its encoding and fsync are not on the way from the verdict to the PLC."""
        fresh = [p for p in items if p.row is None]  # a retried batch keeps its rows
        may_save: bool | None = None  # one free-space probe per batch, and only when an image is wanted
        for p in fresh:
            notes: dict = {}
            insp = p.inspection
            if insp.image is not None and self.images.wants(insp.verdict):
                may_save = self.guard.may_save() if may_save is None else may_save
                if may_save:
                    key = f"{p.inspection_id:010d}_{insp.part_id}"
                    p.job = ImageJob(insp.image, insp.verdict, key, insp.captured_at)
                    p.image_path = self.images.planned_path(p.job)
                else:
                    notes["image_not_saved"] = "image saving stopped (disk nearly full)"
            record_ms = (time.monotonic() - p.submitted_mono) * 1000.0  # queue wait
            p.row, p.detections = schema.inspection_rows(
                p.inspection, p.inspection_id, self.station, p.image_path, None, notes, record_ms
            )  # image_sha256 NULL: the image is being written (filled in by the next transaction)

    def _write_images(self, items: list[_Pending]) -> None:
        """After the commit: write the batch's images; their sha256 (or why not) goes into the next
        transaction. A crash in between leaves rows whose image_sha256 is NULL: the next start checks
        each (``_repair_pending_images``)."""
        todo = [p for p in items if p.job is not None]
        if not todo:
            return
        results = self.images.save_batch([p.job for p in todo])  # type: ignore[misc]
        for p, result in zip(todo, results, strict=True):
            p.job = None
            if isinstance(result, SavedImage):
                self._image_updates.append((p.inspection_id, result.sha256, None))
                self.guard.on_save_ok()
                continue
            if isinstance(result, OSError):
                why = f"write failed: {result.strerror or result}"
                self.guard.on_save_error(result)
            else:
                why = str(result)
            self._image_updates.append((p.inspection_id, None, why))

    def _apply_image_updates(self, conn: sqlite3.Connection) -> None:
        """Inside the caller's transaction."""
        done = [(sha, rid) for rid, sha, _why in self._image_updates if sha is not None]
        failed = [(why, rid) for rid, sha, why in self._image_updates if sha is None]
        conn.executemany("UPDATE inspections SET image_sha256 = ? WHERE id = ?", done)
        conn.executemany(
            "UPDATE inspections SET image_path = NULL,"
            " timings = json_set(coalesce(timings, '{}'), '$.image_not_saved', ?) WHERE id = ?",
            failed,
        )

    def _repair_pending_images(self, conn: sqlite3.Connection) -> int:
        """Rows committed whose image was not confirmed (a crash between the commit and the image write):
        an image on disk is complete (written to a temp file, renamed) and gets its sha256; a missing one
        is said missing. Only the newest rows can be in this state."""
        newest = conn.execute("SELECT coalesce(max(id), 0) FROM inspections").fetchone()[0]
        rows = conn.execute(
            "SELECT id, image_path FROM inspections WHERE id > ? AND image_path IS NOT NULL"
            " AND image_sha256 IS NULL AND image_deleted = 0", (newest - 100_000,),
        ).fetchall()  # fmt: skip
        if not rows:
            return 0
        conn.execute("BEGIN IMMEDIATE")
        for rid, rel in rows:
            path = self.images.abspath(rel)
            if path.is_file():
                conn.execute("UPDATE inspections SET image_sha256 = ? WHERE id = ?", (sha256_file(path), rid))
            else:
                conn.execute(
                    "UPDATE inspections SET image_path = NULL, timings = json_set(coalesce(timings, '{}'),"
                    " '$.image_not_saved', 'the station stopped before the image was written') WHERE id = ?",
                    (rid,),
                )  # fmt: skip
        conn.execute("COMMIT")
        return len(rows)


_TIMINGS = schema.INSPECTION_COLUMNS.index("timings")


def _noted(row: tuple, why: str) -> tuple:
    """A prepared row with ``journaled`` added to its timings JSON, so the imported row says where it was."""
    timings = json.loads(row[_TIMINGS]) if row[_TIMINGS] else {}
    timings["journaled"] = why
    return (*row[:_TIMINGS], json.dumps(timings), *row[_TIMINGS + 1 :])
