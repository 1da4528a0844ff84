"""GetResultById / GetResultListFiltered answered from ``results.db`` through a read-only connection.

The station's store is the only writer of that file; these queries never lock it (WAL readers do not block the
writer). Results are returned as JSON text: a PLC or MES parses one string more easily than nested OPC UA
structures it would first have to load type definitions for.
"""

from __future__ import annotations

import json
import sqlite3
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from inspect_app.store import StoreError, open_readonly

_SUMMARY = (
    "id, time, part_id, trigger_id, recipe, model_id, verdict, error_code, n_detections, t_total_ms, reasons"
)


class ResultNotFound(LookupError):
    pass


def _row_dict(row: sqlite3.Row) -> dict[str, Any]:
    d = dict(row)
    d["result_id"] = str(d.pop("id"))
    d["reasons"] = json.loads(d["reasons"] or "[]")
    return d


class ResultQueries:
    def __init__(self, db_path: Path) -> None:
        self.db_path = db_path

    def _connect(self) -> sqlite3.Connection:
        return open_readonly(self.db_path)

    def by_id(self, result_id: str) -> dict[str, Any]:
        try:
            rid = int(result_id)
        except ValueError:
            raise ResultNotFound(f"result id {result_id!r} is not a number") from None
        try:
            conn = self._connect()
        except StoreError as exc:
            raise ResultNotFound(str(exc)) from None
        try:
            row = conn.execute(
                f"SELECT {_SUMMARY}, image_path FROM inspections WHERE id = ?", (rid,)
            ).fetchone()
            if row is None:
                raise ResultNotFound(f"no result {rid}")
            dets = conn.execute(
                "SELECT class_name, confidence, x1, y1, x2, y2 FROM detections"
                " WHERE inspection_id = ? ORDER BY id",
                (rid,),
            ).fetchall()
        finally:
            conn.close()
        out = _row_dict(row)
        out["detections"] = [
            {
                "class_name": d["class_name"],
                "confidence": round(d["confidence"], 4),
                "box": [d["x1"], d["y1"], d["x2"], d["y2"]],
            }
            for d in dets
        ]
        return out

    def filtered(
        self, part_id: str = "", verdict: str = "", since: datetime | None = None, limit: int = 100
    ) -> list[dict[str, Any]]:
        """Newest first. Empty strings / None mean "any"."""
        where, args = [], []
        if part_id:
            where.append("part_id = ?")
            args.append(part_id)
        if verdict:
            where.append("verdict = ?")
            args.append(verdict.upper())
        if since is not None and since.year > 1601:  # OPC UA's null DateTime is 1601-01-01
            where.append("epoch >= ?")
            args.append(since.replace(tzinfo=since.tzinfo or UTC).timestamp())
        sql = f"SELECT {_SUMMARY} FROM inspections"
        if where:
            sql += " WHERE " + " AND ".join(where)
        sql += " ORDER BY id DESC LIMIT ?"
        args.append(int(limit))
        try:
            conn = self._connect()
        except StoreError:
            return []
        try:
            return [_row_dict(r) for r in conn.execute(sql, args).fetchall()]
        finally:
            conn.close()
