"""The read side of results.db: every query over the station's schema that is not the writer's, in one place.

The writer (``writer.py``) is the one write side; this is the one read side. Readers (the window, the OPC UA
result queries and backlog, the reviews export, replay, reports) get typed records through a read-only
connection (``schema.open_readonly``: a write through it fails; WAL readers never block the writer). A
change of the schema is then a change here, tested once, instead of in four packages.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from inspect_app.store.schema import StoreError, iso_utc, open_readonly
from inspect_app.types import Box

_RECORD = (
    "id, time, epoch, station, recipe, model_id, model_sha256, part_id, trigger_id, trigger_source, frame_id,"
    " source, origin, verdict, error_code, reasons, n_detections, t_total_ms, timings, image_path,"
    " image_sha256, image_deleted"
)


@dataclass(frozen=True, slots=True)
class DetectionRecord:
    class_id: int
    class_name: str
    confidence: float
    box: Box


@dataclass(frozen=True, slots=True)
class InspectionRecord:
    """One committed inspection, with its detections when they were asked for."""

    id: int
    time: str
    epoch: float
    station: str
    recipe: str
    model_id: str | None
    model_sha256: str | None
    part_id: str
    trigger_id: int | None
    trigger_source: str
    frame_id: int | None
    source: str
    origin: str | None
    verdict: str
    error_code: str | None
    reasons: tuple[dict[str, Any], ...]
    n_detections: int
    t_total_ms: float | None
    timings: dict[str, Any]
    image_path: str | None
    image_sha256: str | None
    image_deleted: bool
    detections: tuple[DetectionRecord, ...] | None = None  # None: not read

    @property
    def image_kept(self) -> bool:
        """The image was saved and not deleted by retention (it may still be being written: sha256 None)."""
        return bool(self.image_path) and not self.image_deleted

    @property
    def failed_classes(self) -> list[str]:
        return sorted({r["class_name"] for r in self.reasons if r.get("class_name")})

    def as_dict(self) -> dict[str, Any]:
        """The columns as a plain dict (reasons parsed), for views that show a row."""
        out = {name: getattr(self, name) for name in _RECORD.replace(" ", "").split(",")}
        out["reasons"] = list(self.reasons)
        return out


@dataclass(frozen=True, slots=True)
class ReviewRecord:
    id: int
    time: str
    epoch: float
    inspection_id: int
    kind: str
    class_name: str | None
    box: Box | None
    who: str
    note: str

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True, slots=True)
class AuditRecord:
    id: int
    time: str
    epoch: float
    who: str
    role: str
    action: str
    target: str
    old: str | None
    new: str | None

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class ResultsReader:
    """A read-only view of one results.db. Open lazily (the station may not have made the file yet: every
    call then raises StoreError); ``close()`` when done. Not thread-safe: one reader per thread."""

    db_path: Path
    _conn: sqlite3.Connection | None = field(default=None, repr=False)

    def connection(self) -> sqlite3.Connection:
        if self._conn is None:
            self._conn = open_readonly(self.db_path)
        return self._conn

    def close(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None

    def __enter__(self) -> ResultsReader:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # ------------------------------------------------------------------ inspections
    def inspection(self, inspection_id: int, detections: bool = True) -> InspectionRecord | None:
        row = (
            self.connection()
            .execute(f"SELECT {_RECORD} FROM inspections WHERE id = ?", (int(inspection_id),))
            .fetchone()
        )
        if row is None:
            return None
        return _record(row, self.detections(row["id"]) if detections else None)

    def detections(self, inspection_id: int) -> tuple[DetectionRecord, ...]:
        rows = self.connection().execute(
            "SELECT class_id, class_name, confidence, x1, y1, x2, y2 FROM detections WHERE inspection_id = ?"
            " ORDER BY id",
            (int(inspection_id),),
        )
        return tuple(
            DetectionRecord(
                r["class_id"], r["class_name"], r["confidence"], (r["x1"], r["y1"], r["x2"], r["y2"])
            )
            for r in rows
        )

    def recent(self, limit: int) -> list[InspectionRecord]:
        """The newest ``limit`` inspections, newest first."""
        rows = self.connection().execute(
            f"SELECT {_RECORD} FROM inspections ORDER BY id DESC LIMIT ?", (int(limit),)
        )
        return [_record(r) for r in rows]

    def rejects_with_images(self, limit: int) -> list[InspectionRecord]:
        """The newest FAILs whose image is kept, newest first (the window's reject gallery). Only images
        known written: the store writes a row's image just after its commit and records its sha256 in the
        next transaction, so a row read in between has a path with no file behind it yet."""
        rows = self.connection().execute(
            f"SELECT {_RECORD} FROM inspections WHERE verdict = 'FAIL' AND image_path IS NOT NULL"
            " AND image_sha256 IS NOT NULL AND image_deleted = 0 ORDER BY id DESC LIMIT ?",
            (int(limit),),
        )
        return [_record(r) for r in rows]

    def filtered(
        self, *, part_id: str = "", verdict: str = "", since_epoch: float | None = None, limit: int = 100
    ) -> list[InspectionRecord]:
        """Newest first; empty/None filters match everything."""
        where, args = _where(part_id=part_id, verdict=verdict, since_epoch=since_epoch)
        rows = self.connection().execute(
            f"SELECT {_RECORD} FROM inspections{where} ORDER BY id DESC LIMIT ?", (*args, int(limit))
        )
        return [_record(r) for r in rows]

    def after(
        self, inspection_id: int | None = None, since_epoch: float | None = None
    ) -> list[InspectionRecord]:
        """Oldest first: id > ``inspection_id`` (or, without it, taken at or after ``since_epoch``)."""
        if inspection_id is not None:
            sql, arg = "id > ?", float(inspection_id)
        else:
            sql, arg = "epoch >= ?", float(since_epoch or 0.0)
        rows = self.connection().execute(f"SELECT {_RECORD} FROM inspections WHERE {sql} ORDER BY id", (arg,))
        return [_record(r) for r in rows]

    def iter_range(
        self,
        *,
        since_epoch: float | None = None,
        until_epoch: float | None = None,
        recipe: str = "",
        verdict: str = "",
        reviewed: bool | None = None,
        batch: int = 500,
        last_n: int | None = None,
    ) -> Iterator[InspectionRecord]:
        """Oldest first, with detections, read in batches (replaying a month of results fits in memory).
        ``last_n``: only the newest ``last_n`` of the matching inspections (still oldest first)."""
        where, args = _where(
            recipe=recipe,
            verdict=verdict,
            since_epoch=since_epoch,
            until_epoch=until_epoch,
            reviewed=reviewed,
        )
        last = 0
        if last_n is not None:
            if last_n <= 0:
                return
            row = (
                self.connection()
                .execute(f"SELECT id FROM inspections{where} ORDER BY id DESC LIMIT 1 OFFSET ?",
                         (*args, int(last_n) - 1))
                .fetchone()
            )  # fmt: skip
            last = int(row[0]) - 1 if row is not None else 0
        while True:
            clause = where + (" AND" if where else " WHERE") + " id > ?"
            rows = (
                self.connection()
                .execute(
                    f"SELECT {_RECORD} FROM inspections{clause} ORDER BY id LIMIT ?", (*args, last, batch)
                )
                .fetchall()
            )
            if not rows:
                return
            for r in rows:
                yield _record(r, self.detections(r["id"]))
            last = rows[-1]["id"]

    def count_range(
        self,
        *,
        since_epoch: float | None = None,
        until_epoch: float | None = None,
        recipe: str = "",
        verdict: str = "",
        reviewed: bool | None = None,
        last_n: int | None = None,
    ) -> int:
        """How many inspections ``iter_range`` with the same filters yields."""
        where, args = _where(
            recipe=recipe, verdict=verdict, since_epoch=since_epoch, until_epoch=until_epoch,
            reviewed=reviewed,
        )  # fmt: skip
        n = int(self.connection().execute(f"SELECT count(*) FROM inspections{where}", args).fetchone()[0])
        return n if last_n is None else max(0, min(n, int(last_n)))

    def newest_id(self) -> int:
        return int(self.connection().execute("SELECT coalesce(max(id), 0) FROM inspections").fetchone()[0])

    def class_ids(self) -> dict[int, set[str]]:
        """Class id -> the names the detections table holds for it (one name each, unless models differ)."""
        out: dict[int, set[str]] = {}
        for cid, name in self.connection().execute("SELECT DISTINCT class_id, class_name FROM detections"):
            out.setdefault(int(cid), set()).add(name)
        return out

    # ------------------------------------------------------------------ reviews and audit
    def reviews(
        self, inspection_id: int | None = None, since_epoch: float | None = None
    ) -> list[ReviewRecord]:
        """Oldest first: of one inspection, or all (since ``since_epoch``). [] on a DB older than reviews."""
        where, args = [], []
        if inspection_id is not None:
            where.append("inspection_id = ?")
            args.append(int(inspection_id))
        if since_epoch is not None:
            where.append("time >= ?")
            args.append(iso_utc(since_epoch))
        sql = "SELECT * FROM reviews" + (" WHERE " + " AND ".join(where) if where else "") + " ORDER BY id"
        try:
            rows = self.connection().execute(sql, args).fetchall()
        except sqlite3.OperationalError:  # a v1 database not yet migrated by the station
            return []
        return [
            ReviewRecord(
                r["id"],
                r["time"],
                r["epoch"],
                r["inspection_id"],
                r["kind"],
                r["class_name"],
                None if r["x1"] is None else (r["x1"], r["y1"], r["x2"], r["y2"]),
                r["who"],
                r["note"] or "",
            )
            for r in rows
        ]

    def audit(self, limit: int) -> list[AuditRecord]:
        """Newest first. [] on a DB older than the audit table."""
        try:
            rows = self.connection().execute("SELECT * FROM audit ORDER BY id DESC LIMIT ?", (int(limit),))
            return [
                AuditRecord(
                    r["id"],
                    r["time"],
                    r["epoch"],
                    r["who"],
                    r["role"],
                    r["action"],
                    r["target"],
                    r["old"],
                    r["new"],
                )
                for r in rows
            ]
        except sqlite3.OperationalError:
            return []

    def ping(self) -> None:
        """Raises StoreError / sqlite3.Error when the DB cannot be read."""
        self.connection().execute("SELECT 1 FROM inspections LIMIT 1").fetchall()


def _record(row: sqlite3.Row, detections: tuple[DetectionRecord, ...] | None = None) -> InspectionRecord:
    return InspectionRecord(
        id=row["id"],
        time=row["time"],
        epoch=row["epoch"],
        station=row["station"],
        recipe=row["recipe"],
        model_id=row["model_id"],
        model_sha256=row["model_sha256"],
        part_id=row["part_id"],
        trigger_id=row["trigger_id"],
        trigger_source=row["trigger_source"],
        frame_id=row["frame_id"],
        source=row["source"],
        origin=row["origin"],
        verdict=row["verdict"],
        error_code=row["error_code"],
        reasons=tuple(json.loads(row["reasons"] or "[]")),
        n_detections=row["n_detections"],
        t_total_ms=row["t_total_ms"],
        timings=json.loads(row["timings"] or "{}"),
        image_path=row["image_path"],
        image_sha256=row["image_sha256"],
        image_deleted=bool(row["image_deleted"]),
        detections=detections,
    )


def _where(
    *,
    part_id: str = "",
    verdict: str = "",
    recipe: str = "",
    since_epoch: float | None = None,
    until_epoch: float | None = None,
    reviewed: bool | None = None,
) -> tuple[str, list[Any]]:
    clauses, args = [], []
    for col, value in (("part_id", part_id), ("verdict", verdict.upper()), ("recipe", recipe)):
        if value:
            clauses.append(f"{col} = ?")
            args.append(value)
    if since_epoch is not None:
        clauses.append("epoch >= ?")
        args.append(float(since_epoch))
    if until_epoch is not None:
        clauses.append("epoch < ?")
        args.append(float(until_epoch))
    if reviewed is not None:
        clauses.append(
            ("" if reviewed else "NOT ")
            + "EXISTS (SELECT 1 FROM reviews r WHERE r.inspection_id = inspections.id)"
        )
    return (" WHERE " + " AND ".join(clauses) if clauses else ""), args


__all__ = [
    "AuditRecord",
    "DetectionRecord",
    "InspectionRecord",
    "ResultsReader",
    "ReviewRecord",
    "StoreError",
]
