"""Reads the results DB and the image archive for the window, in a thread of its own.

The window never waits on SQLite or the disk: it asks (``request``), and the answer comes back through the
``ready`` signal, queued to the Qt thread. Requests of one kind coalesce (a newer "recent results" request
replaces one not yet run), so a slow disk delays the table but never piles up work. The connection is
``ResultsReader`` (read-only): this thread cannot write, and WAL lets it read while the station commits.

Thumbnails and full images are decoded here, into QImages (which, unlike QPixmaps, may be made off the
GUI thread); a thumbnail is decoded once and then served from a small cache.
"""

from __future__ import annotations

import logging
import shutil
import sqlite3
import threading
from collections import OrderedDict
from collections.abc import Callable
from pathlib import Path
from typing import Any

import cv2
import numpy as np
from PyQt6.QtCore import QObject, pyqtSignal
from PyQt6.QtGui import QImage

from inspect_app.store.read import ResultsReader
from inspect_app.store.schema import StoreError
from ui.overlay import class_colour

log = logging.getLogger(__name__)

THUMB_PX = 140
_THUMB_CACHE = 400


def to_qimage(bgr: np.ndarray) -> QImage:
    """A QImage that owns a copy of the pixels (the array may go away)."""
    if bgr.ndim == 2:
        bgr = cv2.cvtColor(bgr, cv2.COLOR_GRAY2BGR)
    bgr = np.ascontiguousarray(bgr[:, :, :3])
    h, w = bgr.shape[:2]
    return QImage(bgr.data, w, h, int(bgr.strides[0]), QImage.Format.Format_BGR888).copy()


class DbReader(QObject):
    ready = pyqtSignal(str, object)  # kind, payload

    def __init__(self, db_path: Path, state_dir: Path) -> None:
        super().__init__()
        self.db_path = Path(db_path)
        self.state_dir = Path(state_dir)
        self._pending: dict[str, Callable[[], Any]] = {}
        self._cond = threading.Condition()
        self._closed = False
        self._reader = ResultsReader(self.db_path)  # used on the reader thread only
        self._thumbs: OrderedDict[int, QImage] = OrderedDict()
        self._thread = threading.Thread(target=self._run, name="ui-db-reader", daemon=True)
        self._thread.start()

    # ---------------------------------------------------------------- Qt thread
    def request(self, kind: str, *args: Any) -> None:
        """Ask for ``kind`` (recent, gallery, detail, audit, reviews, health); the answer comes by ready."""
        job = getattr(self, f"_q_{kind}")
        with self._cond:
            self._pending[kind] = lambda: job(*args)
            self._cond.notify()

    def close(self) -> None:
        with self._cond:
            self._closed = True
            self._cond.notify()
        self._thread.join(5.0)

    # ---------------------------------------------------------------- reader thread
    def _run(self) -> None:
        while True:
            with self._cond:
                while not self._pending and not self._closed:
                    self._cond.wait()
                if self._closed:
                    break
                kind, job = next(iter(self._pending.items()))
                del self._pending[kind]
            try:
                payload = job()
            except (sqlite3.Error, StoreError, OSError) as exc:
                log.debug("reading %s failed: %s", kind, exc)
                self._drop_conn()
                payload = {"error": str(exc)}
            except Exception as exc:  # thread boundary: one bad row must not end the window's reads
                log.exception("reading %s failed", kind)
                payload = {"error": f"{type(exc).__name__}: {exc}"}
            self.ready.emit(kind, payload)
        self._drop_conn()

    def _db(self) -> ResultsReader:
        return self._reader  # opens on first use: StoreError until the station has made the file

    def _drop_conn(self) -> None:
        self._reader.close()

    def _q_recent(self, limit: int) -> list[dict[str, Any]]:
        return [r.as_dict() for r in self._db().recent(limit)]

    def _q_gallery(self, n: int, names: tuple[str, ...] = ()) -> list[dict[str, Any]]:
        return [{"id": r.id, "epoch": r.epoch, "part_id": r.part_id, "classes": r.failed_classes,
                 "thumb": self._thumb(r.id, r.image_path or "", list(r.reasons), names)}
                for r in self._db().rejects_with_images(n)]  # fmt: skip

    def _thumb(self, iid: int, rel: str, reasons: list[dict[str, Any]],
               names: tuple[str, ...]) -> QImage | None:
        """The reject, small, with the failing boxes drawn in their class colours (the defect is often a
        few pixels: without its box a thumbnail shows nothing)."""
        if iid in self._thumbs:
            self._thumbs.move_to_end(iid)
            return self._thumbs[iid]
        # a JPEG decoded at 1/4 size (DCT scaling) costs a fraction of a full decode: at 30 parts/s the
        # new rejects' thumbnails otherwise took a few % of a core
        img = cv2.imread(str(self.state_dir / rel), cv2.IMREAD_REDUCED_COLOR_4)
        if img is None:
            return None  # unreadable now (removed, or a disk error): not cached, the next read tries again
        scale = THUMB_PX / max(img.shape[:2])
        small = cv2.resize(img, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA)
        for reason in reasons:
            if reason.get("box") and reason.get("class_name"):
                x1, y1, x2, y2 = (round(v * scale / 4) for v in reason["box"])
                c = class_colour(reason["class_name"], names)
                bgr = (c.blue(), c.green(), c.red())
                cv2.rectangle(small, (x1 - 2, y1 - 2), (x2 + 2, y2 + 2), bgr, 2)
        thumb = to_qimage(small)
        self._thumbs[iid] = thumb
        while len(self._thumbs) > _THUMB_CACHE:
            self._thumbs.popitem(last=False)
        return thumb

    def _q_detail(self, iid: int) -> dict[str, Any]:
        rec = self._db().inspection(iid)
        if rec is None:
            return {"error": f"no inspection {iid}"}
        detections = [{"class_id": d.class_id, "class_name": d.class_name, "confidence": d.confidence,
                       "x1": d.box[0], "y1": d.box[1], "x2": d.box[2], "y2": d.box[3]}
                      for d in sorted(rec.detections or (), key=lambda d: -d.confidence)]  # fmt: skip
        image, note = None, None
        if not rec.image_path:
            note = "not kept"
        elif rec.image_deleted:
            note = "deleted"
        else:
            arr = cv2.imread(str(self.state_dir / rec.image_path), cv2.IMREAD_COLOR)
            if arr is None:
                note = "unreadable"
            else:
                image = to_qimage(arr)
        return {"row": rec.as_dict(), "reasons": list(rec.reasons), "detections": detections,
                "reviews": self._reviews(iid), "image": image, "image_note": note}

    def _reviews(self, iid: int) -> list[dict[str, Any]]:
        return [r.as_dict() for r in self._db().reviews(iid)]

    def _q_reviews(self, iid: int) -> dict[str, Any]:
        return {"id": iid, "reviews": self._reviews(iid)}

    def _q_audit(self, limit: int) -> list[dict[str, Any]]:
        return [r.as_dict() for r in self._db().audit(limit)]

    def _q_health(self, snapshot: Callable[[], Any]) -> dict[str, Any]:
        usage = shutil.disk_usage(self.state_dir if self.state_dir.exists() else self.state_dir.parent)
        out: dict[str, Any] = {"disk_free": usage.free, "disk_total": usage.total}
        try:
            self._db().ping()
            out["db_ok"], out["db_bytes"] = True, self.db_path.stat().st_size
        except (sqlite3.Error, StoreError, OSError) as exc:
            self._drop_conn()
            out["db_ok"], out["db_error"] = False, str(exc)
        out["snapshot"] = snapshot()  # link.status() may take a lock or ask a server: not on the Qt thread
        return out
