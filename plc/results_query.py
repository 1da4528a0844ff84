"""GetResultById / GetResultListFiltered answered from ``results.db`` through a read-only connection.

The station's store is the only writer of that file; these queries never lock it (WAL readers do not block the
writer). Results are returned as JSON text: a PLC or MES parses one string more easily than nested OPC UA
structures it would first have to load type definitions for.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from inspect_app.store import StoreError
from inspect_app.store.read import InspectionRecord, ResultsReader

_SUMMARY = (
    "id", "time", "part_id", "trigger_id", "recipe", "model_id", "verdict", "error_code", "n_detections",
    "t_total_ms", "reasons",
)  # fmt: skip


class ResultNotFound(LookupError):
    pass


def _summary(rec: InspectionRecord, *extra: str) -> dict[str, Any]:
    d = {k: getattr(rec, k) for k in (*_SUMMARY, *extra)}
    d["result_id"] = str(d.pop("id"))
    d["reasons"] = list(rec.reasons)
    return d


class ResultQueries:
    def __init__(self, db_path: Path) -> None:
        self.db_path = db_path

    def by_id(self, result_id: str) -> dict[str, Any]:
        try:
            rid = int(result_id)
        except ValueError:
            raise ResultNotFound(f"result id {result_id!r} is not a number") from None
        try:
            with ResultsReader(self.db_path) as reader:
                rec = reader.inspection(rid)
        except StoreError as exc:
            raise ResultNotFound(str(exc)) from None
        if rec is None:
            raise ResultNotFound(f"no result {rid}")
        out = _summary(rec, "image_path")
        out["detections"] = [
            {"class_name": d.class_name, "confidence": round(d.confidence, 4), "box": list(d.box)}
            for d in rec.detections or ()
        ]
        return out

    def filtered(
        self, part_id: str = "", verdict: str = "", since: datetime | None = None, limit: int = 100
    ) -> list[dict[str, Any]]:
        """Newest first. Empty strings / None mean "any"."""
        since_epoch = None
        if since is not None and since.year > 1601:  # OPC UA's null DateTime is 1601-01-01
            since_epoch = since.replace(tzinfo=since.tzinfo or UTC).timestamp()
        try:
            with ResultsReader(self.db_path) as reader:
                found = reader.filtered(
                    part_id=part_id, verdict=verdict, since_epoch=since_epoch, limit=limit
                )
        except StoreError:
            return []
        return [_summary(r) for r in found]
