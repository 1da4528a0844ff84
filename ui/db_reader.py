"""Reads the results DB and the image archive for the window, in a thread of its own.

The window never waits on SQLite or the disk: it asks (``request``), and the answer comes back through the
``ready`` signal, queued to the Qt thread. Requests of one kind coalesce (a newer "recent results" request
replaces one not yet run), so a slow disk delays the table but never piles up work. The connection is
``open_readonly``: this thread cannot write, and WAL lets it read while the station commits.

Thumbnails and full images are decoded here, into QImages (which, unlike QPixmaps, may be made off the
GUI thread); a thumbnail is decoded once and then served from a small cache.
"""

from __future__ import annotations

import json
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

from inspect_app.store.schema import StoreError, open_readonly
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
        self._conn: sqlite3.Connection | None = None
        self._thumbs: OrderedDict[int, QImage | None] = OrderedDict()
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

    def _db(self) -> sqlite3.Connection:
        if self._conn is None:
            self._conn = open_readonly(self.db_path)  # StoreError until the station has made the file
        return self._conn

    def _drop_conn(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None

    def _q_recent(self, limit: int) -> list[dict[str, Any]]:
        rows = self._db().execute(
            "SELECT id, time, epoch, part_id, verdict, recipe, error_code, reasons, t_total_ms, image_path,"
            " image_deleted FROM inspections ORDER BY id DESC LIMIT ?", (limit,)).fetchall()
        return [{**dict(r), "reasons": json.loads(r["reasons"] or "[]")} for r in rows]

    def _q_gallery(self, n: int, names: tuple[str, ...] = ()) -> list[dict[str, Any]]:
        rows = self._db().execute(
            "SELECT id, epoch, part_id, reasons, image_path FROM inspections WHERE verdict = 'FAIL'"
            " AND image_path IS NOT NULL AND image_deleted = 0 ORDER BY id DESC LIMIT ?", (n,)).fetchall()
        out = []
        for r in rows:
            reasons = json.loads(r["reasons"] or "[]")
            classes = sorted({x["class_name"] for x in reasons if x.get("class_name")})
            out.append({"id": r["id"], "epoch": r["epoch"], "part_id": r["part_id"], "classes": classes,
                        "thumb": self._thumb(r["id"], r["image_path"], reasons, names)})
        return out

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
        thumb = None
        if img is not None:
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
        db = self._db()
        row = db.execute("SELECT * FROM inspections WHERE id = ?", (iid,)).fetchone()
        if row is None:
            return {"error": f"no inspection {iid}"}
        detections = [dict(d) for d in db.execute(
            "SELECT class_id, class_name, confidence, x1, y1, x2, y2 FROM detections WHERE inspection_id = ?"
            " ORDER BY confidence DESC", (iid,))]
        image, note = None, None
        if not row["image_path"]:
            note = "not kept"
        elif row["image_deleted"]:
            note = "deleted"
        else:
            arr = cv2.imread(str(self.state_dir / row["image_path"]), cv2.IMREAD_COLOR)
            if arr is None:
                note = "unreadable"
            else:
                image = to_qimage(arr)
        return {"row": dict(row), "reasons": json.loads(row["reasons"] or "[]"), "detections": detections,
                "reviews": self._reviews(iid), "image": image, "image_note": note}

    def _reviews(self, iid: int) -> list[dict[str, Any]]:
        try:
            return [dict(r) for r in self._db().execute(
                "SELECT * FROM reviews WHERE inspection_id = ? ORDER BY id", (iid,))]
        except sqlite3.OperationalError:  # a v1 database not yet migrated by the station
            return []

    def _q_reviews(self, iid: int) -> dict[str, Any]:
        return {"id": iid, "reviews": self._reviews(iid)}

    def _q_audit(self, limit: int) -> list[dict[str, Any]]:
        try:
            rows = self._db().execute("SELECT * FROM audit ORDER BY id DESC LIMIT ?", (limit,)).fetchall()
        except sqlite3.OperationalError:
            return []
        return [dict(r) for r in rows]

    def _q_health(self, snapshot: Callable[[], Any]) -> dict[str, Any]:
        usage = shutil.disk_usage(self.state_dir if self.state_dir.exists() else self.state_dir.parent)
        out: dict[str, Any] = {"disk_free": usage.free, "disk_total": usage.total}
        try:
            self._db().execute("SELECT 1 FROM inspections LIMIT 1").fetchall()
            out["db_ok"], out["db_bytes"] = True, self.db_path.stat().st_size
        except (sqlite3.Error, StoreError, OSError) as exc:
            self._drop_conn()
            out["db_ok"], out["db_error"] = False, str(exc)
        out["snapshot"] = snapshot()  # link.status() may take a lock or ask a server: not on the Qt thread
        return out
