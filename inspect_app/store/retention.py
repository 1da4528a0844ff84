"""Disk watermarks: delete old images, stop saving images when the disk is nearly full.

Runs in the store's writer thread, between batches, so it needs no locks and never races a commit:

* every ``check_interval_s``: when free space < ``min_free_mb`` (or the image folder > ``max_images_mb``)
  start a retention run; it deletes the oldest PASS images first, then FAIL/NOT_INSPECTED, in small steps:
  each step picks, oldest first, just the files whose sizes cover what is still missing (at most
  ``CHUNK``; one small transaction plus a few unlinks), then measures free space again, until
  ``resume_free_mb`` is free (and the folder is under 90 % of its cap). Needing 10 MB deletes about 10 MB,
  not the archive. One event summarises the run.
* free space < ``stop_saving_free_mb``, or a write failing with ENOSPC, stops image saving with an error
  event (kind ``disk``); rows keep being recorded. Saving resumes, with an info event, once free space is
  back above ``max(stop_saving_free_mb + hysteresis_mb, min_free_mb)``: every alarm has hysteresis, so
  none flaps at its threshold (with a threshold of 0 as much as with any other).
* the results DB's space reserve (``reserve.py``), once released, is made again only when its size plus
  ``stop_saving_free_mb + hysteresis_mb`` is free.

Rows are marked ``image_deleted=1`` and committed *before* their files are unlinked: a crash in between
leaves files whose rows say deleted, which ``ImageArchive.cleanup_orphans`` removes at the next start.
"""

from __future__ import annotations

import contextlib
import heapq
import sqlite3
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from inspect_app.config import RetentionConfig
from inspect_app.store.images import ImageArchive, is_enospc
from inspect_app.store.reserve import SpaceReserve
from inspect_app.store.schema import iso_utc
from inspect_app.types import Severity, StatusEvent

MB = 1024 * 1024
CHUNK = 20  # files per step at most: bounds the time a step keeps the next batch waiting
CAP_TARGET = 0.9  # a run started by max_images_mb deletes down to 90 % of the cap

Emit = Callable[[StatusEvent], None]


@dataclass(slots=True)
class _Run:
    reason: str
    by_free: bool
    by_cap: bool
    count: int = 0
    bytes: int = 0
    oldest: float | None = None
    newest: float | None = None
    by_verdict: dict[str, int] = field(default_factory=dict)


class DiskGuard:
    def __init__(
        self,
        archive: ImageArchive,
        config: RetentionConfig,
        emit: Emit,
        clock: Callable[[], float] = time.monotonic,
        reserves: tuple[SpaceReserve, ...] = (),
        on_reserve_back: Callable[[], None] | None = None,
    ) -> None:
        self.archive = archive
        self.reserves = reserves  # the DB's first
        self.on_reserve_back = on_reserve_back
        self.config = config
        self.emit = emit
        self.clock = clock
        self.saving = True
        self.chunk = CHUNK
        self._run: _Run | None = None
        self._next_check = 0.0  # check at the first opportunity after start
        self._warned_empty = False
        self._write_error: str | None = None  # last non-ENOSPC save error reported, to report once

    # ------------------------------------------------------------ space
    def free_bytes(self) -> int:
        return self.archive.free_bytes()

    def free_mb(self) -> float:
        return self.archive.free_bytes() / MB

    def resume_saving_mb(self) -> float:
        cfg = self.config
        return max(cfg.stop_saving_free_mb + cfg.hysteresis_mb, cfg.min_free_mb)

    def reserve_resume_mb(self) -> float:
        size = sum(r.size for r in self.reserves) / MB
        return size + self.config.stop_saving_free_mb + self.config.hysteresis_mb

    # ------------------------------------------------------------ scheduling
    @property
    def busy(self) -> bool:
        return self._run is not None

    def seconds_until_due(self) -> float:
        return 0.0 if self._run is not None else max(0.0, self._next_check - self.clock())

    def tick(self, conn: sqlite3.Connection) -> None:
        """Called by the writer between batches: one deletion chunk if a run is active, else the
        periodic check when due."""
        if self._run is not None:
            self._step(conn)
        elif self.clock() >= self._next_check:
            self._next_check = self.clock() + self.config.check_interval_s
            self.check(conn)

    def check(self, conn: sqlite3.Connection) -> None:
        free = self.archive.free_bytes()
        cfg = self.config
        self._check_reserve(free)
        if self.saving and free < cfg.stop_saving_free_mb * MB:
            self._stop(f"free space {free / MB:.0f} MB < stop_saving_free_mb={cfg.stop_saving_free_mb:g}")
        elif not self.saving and free >= self.resume_saving_mb() * MB and not self.on_reserve():
            self.saving = True
            self.emit(
                StatusEvent("disk", Severity.INFO, f"image saving resumed: {free / MB:.0f} MB free",
                            {"free_mb": round(free / MB, 1)})
            )  # fmt: skip
        by_free = free < cfg.min_free_mb * MB
        by_cap = cfg.max_images_mb is not None and self.archive.usage_bytes > cfg.max_images_mb * MB
        if self._run is None and (by_free or by_cap):
            usage_mb = self.archive.usage_bytes / MB
            reason = (
                f"free space {free / MB:.0f} MB < min_free_mb={cfg.min_free_mb:g}"
                if by_free
                else f"image folder {usage_mb:.0f} MB > max_images_mb={cfg.max_images_mb:g}"
            )
            self._run = _Run(reason, by_free, by_cap)
            self._step(conn)

    def _check_reserve(self, free: int) -> None:
        missing = [r for r in self.reserves if r.enabled and not r.held]
        if not missing:
            return
        margin = int((self.config.stop_saving_free_mb + self.config.hysteresis_mb) * MB)
        was_released = any(r.released for r in missing)
        # both back or neither: the DB's reserve is what the station's DISK_FULL Error waits for
        total = sum(r.size for r in missing)
        back = free - total >= margin and all(r.ensure(free, 0) for r in missing)
        if back and was_released and self.on_reserve_back is not None:
            self.on_reserve_back()
        elif not back and was_released:
            # look again soon: a retention run or an operator may free space within seconds
            self._next_check = min(self._next_check, self.clock() + min(self.config.check_interval_s, 5.0))

    # ------------------------------------------------------------ image saving state
    def on_reserve(self) -> bool:
        """The DB is running on its reserve: that space is for rows and alarms, never for images."""
        return any(r.released for r in self.reserves)

    def may_save(self) -> bool:
        """Per batch with images to save: one cheap free-space probe, so the stop threshold is honoured
        between periodic checks."""
        if self.saving and self.on_reserve():
            self._stop("the results DB is running on its space reserve")
        elif self.saving and self.archive.free_bytes() < self.config.stop_saving_free_mb * MB:
            self._stop(f"free space below stop_saving_free_mb={self.config.stop_saving_free_mb:g}")
        return self.saving

    def on_save_error(self, exc: OSError) -> None:
        if is_enospc(exc):
            if self.saving:  # several frames of one batch fail together: one alarm
                self._stop(f"image write failed: {exc.strerror or exc}")
            return
        msg = f"{type(exc).__name__}: {exc}"
        if msg != self._write_error:  # the same failure on every frame is one alarm, not thousands
            self._write_error = msg
            self.emit(StatusEvent("disk", Severity.ERROR, f"cannot save image: {msg}", {"errno": exc.errno}))

    def on_save_ok(self) -> None:
        self._write_error = None

    def _stop(self, why: str) -> None:
        self.saving = False
        # look again soon: a retention run may free space within seconds
        self._next_check = min(self._next_check, self.clock() + min(self.config.check_interval_s, 5.0))
        self.emit(
            StatusEvent("disk", Severity.ERROR, f"image saving stopped: {why}; results are still recorded",
                        {"free_mb": round(self.archive.free_bytes() / MB, 1)})
        )  # fmt: skip

    # ------------------------------------------------------------ retention
    def _missing_bytes(self, run: _Run) -> int:
        cfg = self.config
        need = 0
        if run.by_free:
            need = max(need, int(cfg.resume_free_mb * MB) - self.archive.free_bytes())
        if run.by_cap and cfg.max_images_mb is not None:
            need = max(need, self.archive.usage_bytes - int(cfg.max_images_mb * MB * CAP_TARGET))
        return need

    def _pick(self, rows: list[tuple[int, str, float, str]], need: int) -> list[tuple[int, str, float, str]]:
        """Oldest first, just enough files to cover ``need`` bytes (at least one)."""
        picked, total = [], 0
        for row in rows:
            picked.append(row)
            with contextlib.suppress(OSError):  # already gone: marking its row frees nothing, costs nothing
                total += self.archive.abspath(row[1]).stat().st_size
            if total >= need:
                break
        return picked

    def _candidates(self, conn: sqlite3.Connection) -> list[tuple[int, str, float, str]]:
        sql = (
            "SELECT id, image_path, epoch, verdict FROM inspections INDEXED BY idx_inspections_images"
            " WHERE verdict = ? AND image_path IS NOT NULL AND image_deleted = 0 ORDER BY id LIMIT ?"
        )
        rows = conn.execute(sql, ("PASS", self.chunk)).fetchall()
        if rows:
            return rows
        # FAIL and NOT_INSPECTED together, oldest first: two index walks merged, not a sort of all rows
        fail = conn.execute(sql, ("FAIL", self.chunk)).fetchall()
        ni = conn.execute(sql, ("NOT_INSPECTED", self.chunk)).fetchall()
        return list(heapq.merge(fail, ni))[: self.chunk]

    def _goal_met(self, run: _Run) -> bool:
        cfg = self.config
        free_ok = not run.by_free or self.archive.free_bytes() >= cfg.resume_free_mb * MB
        cap_ok = (
            not run.by_cap
            or cfg.max_images_mb is None
            or self.archive.usage_bytes <= cfg.max_images_mb * MB * CAP_TARGET
        )
        return free_ok and cap_ok

    def _step(self, conn: sqlite3.Connection) -> None:
        run = self._run
        assert run is not None
        if self._goal_met(run):
            self._finish(run, exhausted=False)
            return
        try:
            rows = self._pick(self._candidates(conn), self._missing_bytes(run))
            if rows:
                conn.execute("BEGIN IMMEDIATE")
                try:
                    conn.executemany(
                        "UPDATE inspections SET image_deleted = 1 WHERE id = ?", [(r[0],) for r in rows]
                    )
                    conn.execute("COMMIT")
                except BaseException:
                    if conn.in_transaction:
                        conn.execute("ROLLBACK")
                    raise
        except sqlite3.Error as exc:
            self._run = None
            self.emit(StatusEvent("disk", Severity.ERROR, f"image retention failed: {exc}", {}))
            return
        if not rows:
            self._finish(run, exhausted=True)
            return
        for _id, rel, epoch, verdict in rows:
            try:
                run.bytes += self.archive.delete(rel)
            except OSError as exc:  # row already says deleted; the start-up orphan sweep retries the file
                self.emit(StatusEvent("disk", Severity.WARNING, f"cannot delete {rel}: {exc}", {}))
            run.count += 1
            run.by_verdict[verdict] = run.by_verdict.get(verdict, 0) + 1
            run.oldest = epoch if run.oldest is None else min(run.oldest, epoch)
            run.newest = epoch if run.newest is None else max(run.newest, epoch)
        if self._goal_met(run):
            self._finish(run, exhausted=False)

    def _finish(self, run: _Run, exhausted: bool) -> None:
        self._run = None
        free = self.archive.free_bytes()
        if run.count:
            self._warned_empty = False
            self.emit(
                StatusEvent(
                    "disk",
                    Severity.INFO,
                    f"retention deleted {run.count} images ({run.bytes / MB:.1f} MB, "
                    f"{iso_utc(run.oldest or 0)} .. {iso_utc(run.newest or 0)}): {run.reason}",
                    {
                        "count": run.count,
                        "bytes": run.bytes,
                        "by_verdict": run.by_verdict,
                        "oldest_time": iso_utc(run.oldest or 0),
                        "newest_time": iso_utc(run.newest or 0),
                        "free_mb_after": round(free / MB, 1),
                        "reason": run.reason,
                    },
                )
            )
        if exhausted and not self._warned_empty:
            self._warned_empty = True
            self.emit(
                StatusEvent("disk", Severity.WARNING,
                            f"{run.reason}, and no archived images are left to delete",
                            {"free_mb": round(free / MB, 1)})
            )  # fmt: skip
        if not self.saving:  # space may be back now: do not wait a whole interval to resume
            self._next_check = self.clock()
