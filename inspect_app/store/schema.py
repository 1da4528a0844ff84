"""Tables of the results database, their migrations, and connection helpers.

Only plain SQLite types (INTEGER, FLOAT, TEXT) and JSON stored as TEXT are used, so `datasette
var/results.db`, the sqlite3 shell and pandas read the file without any help from this package.

Times are stored twice: ``time`` as fixed-width ISO-8601 UTC text (``2024-05-01T12:34:56.123456Z``), which
people read and which sorts chronologically as text, and ``epoch`` (float seconds) for arithmetic.
"""

from __future__ import annotations

import json
import math
import sqlite3
import time as _time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import sqlite_utils

from inspect_app.types import Box, Inspection, Severity, StatusEvent


class StoreError(RuntimeError):
    """The results store cannot do what was asked (closed, not started, database unusable)."""


class StoreClosed(StoreError):
    """``submit`` after ``close``: the store no longer accepts inspections."""


STAGE_COLUMNS = {  # Inspection.timings_ms key -> column; other keys go to the ``timings`` JSON
    "acquire": "t_acquire_ms",
    "detect": "t_detect_ms",
    "decide": "t_decide_ms",
    "record": "t_record_ms",
    "total": "t_total_ms",
}

INSPECTION_COLUMNS = (
    "id", "time", "epoch", "station", "recipe", "model_id", "model_sha256", "part_id", "trigger_id",
    "trigger_source", "frame_id", "source", "origin", "verdict", "error_code", "reasons", "n_detections",
    "t_acquire_ms", "t_detect_ms", "t_decide_ms", "t_record_ms", "t_total_ms", "timings",
    "image_path", "image_sha256", "image_deleted",
)  # fmt: skip
DETECTION_COLUMNS = ("inspection_id", "class_id", "class_name", "confidence", "x1", "y1", "x2", "y2")
EVENT_COLUMNS = ("time", "epoch", "kind", "severity", "message", "payload")
REVIEW_COLUMNS = (
    "time", "epoch", "inspection_id", "kind", "class_name", "x1", "y1", "x2", "y2", "who", "note",
)  # fmt: skip
AUDIT_COLUMNS = ("time", "epoch", "who", "role", "action", "target", "old", "new")
SHADOW_COLUMNS = (
    "time", "epoch", "inspection_id", "recipe", "model_id", "model_sha256", "live_verdict", "verdict",
    "classes", "detections", "t_detect_ms", "shadow",
)  # fmt: skip
REVIEW_KINDS = ("confirmed_defect", "false_reject", "missed_defect")


def _num(v: object) -> float | None:
    if v is None:
        return None
    f = float(v)  # type: ignore[arg-type]
    return f if math.isfinite(f) else None  # NaN/inf would make the JSON and the column unreadable


def inspection_rows(
    insp: Inspection,
    inspection_id: int,
    station: str,
    image_path: str | None,
    image_sha256: str | None,
    notes: dict[str, Any],
    record_ms: float,
) -> tuple[tuple, list[tuple]]:
    """The ``inspections`` row (INSPECTION_COLUMNS order) and its ``detections`` rows.

    Known stages go to their ``t_*_ms`` columns; other timings and ``notes`` (e.g. why no image was
    saved) go to the ``timings`` JSON. Without a "record" timing the store's own share (``record_ms``)
    is used; without a "total", the sum of the stage columns.
    """
    timings: dict[str, Any] = dict(insp.timings_ms)
    stage = {col: _num(timings.pop(key, None)) for key, col in STAGE_COLUMNS.items()}
    if stage["t_record_ms"] is None:
        stage["t_record_ms"] = round(record_ms, 3)
    if stage["t_total_ms"] is None:
        stage["t_total_ms"] = round(sum(v for v in stage.values() if v is not None), 3)
    timings.update(notes)
    d = insp.decision
    row = (
        inspection_id, iso_utc(insp.captured_at), insp.captured_at, insp.station or station, insp.recipe,
        insp.model_id, insp.model_sha256, insp.part_id, insp.trigger_id, insp.trigger_source, insp.frame_id,
        insp.source, insp.origin, insp.verdict.value, d.error_code,
        json.dumps([r.as_dict() for r in d.reasons]), len(insp.detections),
        stage["t_acquire_ms"], stage["t_detect_ms"], stage["t_decide_ms"], stage["t_record_ms"],
        stage["t_total_ms"], json.dumps(timings, default=str) if timings else None,
        image_path, image_sha256, 0,
    )  # fmt: skip
    dets = [
        (inspection_id, det.class_id, det.class_name, float(det.confidence), *map(float, det.box))
        for det in insp.detections
    ]
    return row, dets


def event_row(e: StatusEvent) -> tuple:
    severity = e.severity.value if isinstance(e.severity, Severity) else str(e.severity)
    payload = json.dumps(e.payload, default=str) if e.payload else None
    return (iso_utc(e.time), e.time, e.kind, severity, e.message, payload)


@dataclass(frozen=True, slots=True)
class Review:
    """A person's judgement of one inspection; ``box`` (x1, y1, x2, y2 in image pixels) names the detection
    judged (confirmed_defect / false_reject) or the defect the model missed (missed_defect); without a box
    it is about the whole part."""

    inspection_id: int
    kind: str  # one of REVIEW_KINDS
    who: str
    class_name: str | None = None
    box: Box | None = None
    note: str = ""
    time: float = field(default_factory=_time.time)

    def row(self) -> tuple:
        box = tuple(float(v) for v in self.box) if self.box is not None else (None,) * 4
        return (iso_utc(self.time), self.time, self.inspection_id, self.kind, self.class_name, *box,
                self.who, self.note)


@dataclass(frozen=True, slots=True)
class AuditEntry:
    """Who changed what, when: recipe edits, model switches, counter resets, role switches.
    ``old`` and ``new`` are text (JSON for structured values) so any tool can read them."""

    who: str
    role: str
    action: str
    target: str
    old: str | None
    new: str | None
    time: float = field(default_factory=_time.time)

    def row(self) -> tuple:
        return (iso_utc(self.time), self.time, self.who, self.role, self.action, self.target, self.old,
                self.new)


@dataclass(frozen=True, slots=True)
class ShadowResult:
    """What the shadow model decided for one live part (``inspection_id``). Kept in its own table, flagged
    ``shadow = 1``, so no query of the live results (counters, yield, the PLC's, reports) can ever count it.
    ``classes``: the classes its FAIL reasons name; ``detections``: (class, confidence, box) as JSON."""

    inspection_id: int
    recipe: str
    model_id: str
    model_sha256: str
    live_verdict: str
    verdict: str
    classes: tuple[str, ...]
    detections: tuple[tuple[str, float, Box], ...]
    t_detect_ms: float
    time: float = field(default_factory=_time.time)

    def row(self) -> tuple:
        dets = [[c, round(float(p), 4), [round(float(v), 1) for v in box]] for c, p, box in self.detections]
        return (iso_utc(self.time), self.time, self.inspection_id, self.recipe, self.model_id,
                self.model_sha256, self.live_verdict, self.verdict, json.dumps(list(self.classes)),
                json.dumps(dets), round(self.t_detect_ms, 3), 1)  # fmt: skip


def iso_utc(epoch: float) -> str:
    """Fixed-width ISO-8601 UTC; fixed width keeps text order == time order (the time index relies on it)."""
    return datetime.fromtimestamp(epoch, UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


# ---------------------------------------------------------------- migrations
def _v1_initial(db: sqlite_utils.Database) -> None:
    db["inspections"].create(
        {
            "id": int, "time": str, "epoch": float, "station": str, "recipe": str, "model_id": str,
            "model_sha256": str, "part_id": str, "trigger_id": int, "trigger_source": str, "frame_id": int,
            "source": str, "origin": str, "verdict": str, "error_code": str, "reasons": str,
            "n_detections": int, "t_acquire_ms": float, "t_detect_ms": float, "t_decide_ms": float,
            "t_record_ms": float, "t_total_ms": float, "timings": str, "image_path": str,
            "image_sha256": str, "image_deleted": int,
        },
        pk="id",
        not_null={"time", "epoch", "station", "part_id", "verdict", "n_detections", "image_deleted"},
        defaults={"image_deleted": 0, "n_detections": 0},
    )
    db["detections"].create(
        {
            "id": int, "inspection_id": int, "class_id": int, "class_name": str, "confidence": float,
            "x1": float, "y1": float, "x2": float, "y2": float,
        },
        pk="id",
        not_null={"inspection_id", "class_id", "class_name", "confidence"},
        foreign_keys=[("inspection_id", "inspections", "id")],
    )
    db["events"].create(
        {
            "id": int, "time": str, "epoch": float, "kind": str, "severity": str, "message": str,
            "payload": str,
        },
        pk="id",
        not_null={"time", "epoch", "kind", "severity", "message"},
    )
    db["inspections"].create_index(["time"], "idx_inspections_time")
    db["inspections"].create_index(["verdict"], "idx_inspections_verdict")
    db["inspections"].create_index(["part_id"], "idx_inspections_part_id")
    db["detections"].create_index(["inspection_id"], "idx_detections_inspection_id")
    db["events"].create_index(["time"], "idx_events_time")
    # Retention looks for the oldest images still on disk, per verdict; a partial index keeps that
    # lookup O(chunk) however many rows lost their image long ago (sqlite-utils has no partial indexes).
    db.execute(
        "CREATE INDEX idx_inspections_images ON inspections(verdict, id)"
        " WHERE image_path IS NOT NULL AND image_deleted = 0"
    )


def _v2_reviews_audit(db: sqlite_utils.Database) -> None:
    # No foreign key to inspections: the writer checks the id itself, so one bad review is refused alone
    # instead of failing (and endlessly retrying) the batch of inspections committed with it.
    db["reviews"].create(
        {
            "id": int, "time": str, "epoch": float, "inspection_id": int, "kind": str, "class_name": str,
            "x1": float, "y1": float, "x2": float, "y2": float, "who": str, "note": str,
        },
        pk="id",
        not_null={"time", "epoch", "inspection_id", "kind", "who"},
    )
    db["audit"].create(
        {
            "id": int, "time": str, "epoch": float, "who": str, "role": str, "action": str, "target": str,
            "old": str, "new": str,
        },
        pk="id",
        not_null={"time", "epoch", "who", "role", "action"},
    )
    db["reviews"].create_index(["inspection_id"], "idx_reviews_inspection_id")
    db["reviews"].create_index(["time"], "idx_reviews_time")
    db["audit"].create_index(["time"], "idx_audit_time")


def _v3_shadow(db: sqlite_utils.Database) -> None:
    db["shadow_results"].create(
        {
            "id": int, "time": str, "epoch": float, "inspection_id": int, "recipe": str, "model_id": str,
            "model_sha256": str, "live_verdict": str, "verdict": str, "classes": str, "detections": str,
            "t_detect_ms": float, "shadow": int,
        },
        pk="id",
        not_null={"time", "epoch", "inspection_id", "model_id", "live_verdict", "verdict", "shadow"},
        defaults={"shadow": 1},
    )
    db["shadow_results"].create_index(["model_id", "id"], "idx_shadow_results_model")
    db["shadow_results"].create_index(["inspection_id"], "idx_shadow_results_inspection_id")


# Append only: each entry runs once, in order, inside the same transaction that records its version.
MIGRATIONS: list[tuple[int, str, Callable[[sqlite_utils.Database], None]]] = [
    (1, "initial tables: inspections, detections, events", _v1_initial),
    (2, "reviews (operator feedback on verdicts) and audit (who changed what)", _v2_reviews_audit),
    (3, "shadow_results (a candidate model's verdicts on live parts, never the live verdict)", _v3_shadow),
]
SCHEMA_VERSION = MIGRATIONS[-1][0]


def schema_version(conn: sqlite3.Connection) -> int:
    sql = "SELECT name FROM sqlite_master WHERE type = 'table' AND name = 'schema_version'"
    if conn.execute(sql).fetchone() is None:
        return 0
    return conn.execute("SELECT coalesce(max(version), 0) FROM schema_version").fetchone()[0]


def migrate(conn: sqlite3.Connection) -> int:
    """Bring the database to SCHEMA_VERSION; returns the version found before. Needs autocommit mode.

    BEGIN IMMEDIATE takes the write lock first, so two processes starting at once cannot both apply a
    migration.
    """
    db = sqlite_utils.Database(conn, execute_plugins=False)
    conn.execute("BEGIN IMMEDIATE")
    try:
        if not db["schema_version"].exists():
            db["schema_version"].create(
                {"version": int, "applied_at": str, "description": str}, pk="version"
            )
        found = schema_version(conn)
        if found > SCHEMA_VERSION:
            raise StoreError(
                f"database schema version {found} is newer than this software ({SCHEMA_VERSION}); "
                "upgrade the station software or use another database file"
            )
        for version, description, apply in MIGRATIONS:
            if version > found:
                apply(db)
                conn.execute(
                    "INSERT INTO schema_version (version, applied_at, description) VALUES (?, ?, ?)",
                    (version, iso_utc(_time.time()), description),
                )
        conn.execute("COMMIT")
    except BaseException:
        if conn.in_transaction:
            conn.execute("ROLLBACK")
        raise
    return found


def connect_writer(db_path: str | Path) -> sqlite3.Connection:
    """The one writable connection: WAL (readers never block the writer), synchronous=FULL (a commit the
    PLC was told about survives power loss), explicit transactions (isolation_level=None)."""
    Path(db_path).parent.mkdir(parents=True, exist_ok=True)
    conn = sqlite3.connect(str(db_path), isolation_level=None, check_same_thread=True, timeout=10.0)
    mode = conn.execute("PRAGMA journal_mode=WAL").fetchone()[0]
    if str(mode).lower() != "wal":
        conn.close()
        raise StoreError(f"{db_path}: cannot switch to WAL journal mode (got {mode!r})")
    conn.execute("PRAGMA synchronous=FULL")
    conn.execute("PRAGMA foreign_keys=ON")
    return conn


def open_readonly(db_path: str | Path) -> sqlite3.Connection:
    """A read-only connection for UIs, reports and tools while the station writes.

    ``mode=ro`` makes any write fail with ``sqlite3.OperationalError``; WAL lets this reader see every
    committed transaction without blocking the writer. Rows come back as ``sqlite3.Row``.
    """
    path = Path(db_path).resolve()
    if not path.exists():
        raise StoreError(f"{db_path}: no such database")
    conn = sqlite3.connect(f"{path.as_uri()}?mode=ro", uri=True, check_same_thread=False, timeout=10.0)
    conn.row_factory = sqlite3.Row
    return conn
