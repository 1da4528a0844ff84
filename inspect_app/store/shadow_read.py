"""The read side of ``shadow_results``: a shadow model's verdicts on live parts, compared with the live ones.

Part of the one read side of results.db (``read.py``): queries go through a ``ResultsReader``'s read-only
connection. Kept in its own module because it is about one table and its report.
"""

from __future__ import annotations

import json
import sqlite3
from collections import Counter
from collections.abc import Collection
from dataclasses import dataclass, field
from typing import Any

from inspect_app.store.read import ResultsReader


@dataclass(frozen=True, slots=True)
class ShadowRecord:
    id: int
    time: str
    epoch: float
    inspection_id: int
    recipe: str | None
    model_id: str
    model_sha256: str | None
    live_verdict: str
    verdict: str
    classes: tuple[str, ...]  # the shadow's FAIL classes
    live_classes: tuple[str, ...]  # the live result's FAIL classes
    t_detect_ms: float | None


@dataclass(frozen=True, slots=True)
class ShadowAgreement:
    """How a shadow model's verdicts compared with the live ones on the same parts.

    ``verdicts``: "LIVE->SHADOW" -> parts; ``classes``: class -> (parts the live model failed for it, parts
    the shadow failed for it, parts both did); ``skipped``: parts the shadow gave way on, from the stations'
    "shadow stopped" events (a station still running has not reported its skips yet)."""

    model_id: str
    parts: int
    agreeing: int
    verdicts: dict[str, int] = field(default_factory=dict)
    classes: dict[str, tuple[int, int, int]] = field(default_factory=dict)
    skipped: int = 0
    first: str | None = None
    last: str | None = None

    @property
    def agreement(self) -> float | None:
        return self.agreeing / self.parts if self.parts else None

    def class_agreement(self, name: str) -> float | None:
        """Of the parts either model failed for ``name``, the share both did."""
        live, shadow, both = self.classes.get(name, (0, 0, 0))
        either = live + shadow - both
        return both / either if either else None

    def as_dict(self) -> dict[str, Any]:
        return {
            "model_id": self.model_id, "parts": self.parts, "agreeing": self.agreeing,
            "agreement": self.agreement, "verdicts": self.verdicts, "skipped": self.skipped,
            "classes": {k: {"live": v[0], "shadow": v[1], "both": v[2], "agreement": self.class_agreement(k)}
                        for k, v in self.classes.items()},
            "first": self.first, "last": self.last,
        }  # fmt: skip

    def lines(self) -> list[str]:
        agree = "-" if self.agreement is None else f"{self.agreement:.1%}"
        out = [
            f"shadow {self.model_id}: {self.parts} parts judged ({self.first or '-'} .. {self.last or '-'}), "
            f"{self.skipped} skipped",
            f"  verdict agreement with the live model: {agree} ({self.agreeing} of {self.parts})",
        ]
        for pair in ("PASS->PASS", "FAIL->FAIL", "PASS->FAIL", "FAIL->PASS"):
            if self.verdicts.get(pair):
                live, shadow = pair.split("->")
                out.append(f"    live {live:<4} shadow {shadow:<4} {self.verdicts[pair]:>7}")
        if self.classes:
            out.append(f"  {'class':<16}{'live FAIL':>10}{'shadow FAIL':>12}{'both':>7}{'agreement':>11}")
            for name, (live, shadow, both) in sorted(self.classes.items()):
                a = self.class_agreement(name)
                shown = "-" if a is None else f"{a:.1%}"
                out.append(f"  {name:<16}{live:>10}{shadow:>12}{both:>7}{shown:>11}")
        return out


def shadow_models(reader: ResultsReader) -> list[tuple[str, int]]:
    """(model id, parts judged) of every shadow model in the DB, the most recent first."""
    sql = "SELECT model_id, count(*), max(id) FROM shadow_results GROUP BY model_id ORDER BY max(id) DESC"
    try:
        return [(r[0], int(r[1])) for r in reader.connection().execute(sql)]
    except sqlite3.OperationalError:  # a DB older than the shadow table
        return []


def shadow_results(
    reader: ResultsReader, model_id: str | None = None, since_epoch: float | None = None,
    sha256s: Collection[str] | None = None,
) -> list[ShadowRecord]:  # fmt: skip
    """``sha256s``: only rows of a build whose model file has one of these hashes (a release rebuilt under
    the same NAME/VERSION is another model)."""
    where, args = [], []
    if model_id is not None:
        where.append("s.model_id = ?")
        args.append(model_id)
    if sha256s is not None:
        where.append(f"s.model_sha256 IN ({', '.join('?' * len(sha256s)) or 'NULL'})")
        args.extend(sha256s)
    if since_epoch is not None:
        where.append("s.epoch >= ?")
        args.append(float(since_epoch))
    sql = (
        "SELECT s.*, i.reasons AS live_reasons FROM shadow_results s"
        " LEFT JOIN inspections i ON i.id = s.inspection_id"
        + (" WHERE " + " AND ".join(where) if where else "") + " ORDER BY s.id"
    )
    try:
        rows = reader.connection().execute(sql, args).fetchall()
    except sqlite3.OperationalError:
        return []
    return [_record(r) for r in rows]


def shadow_agreement(
    reader: ResultsReader, model_id: str, since_epoch: float | None = None,
    sha256s: Collection[str] | None = None,
) -> ShadowAgreement:  # fmt: skip
    records = shadow_results(reader, model_id, since_epoch, sha256s)
    verdicts: Counter[str] = Counter()
    classes: dict[str, list[int]] = {}
    agreeing = 0
    for r in records:
        verdicts[f"{r.live_verdict}->{r.verdict}"] += 1
        agreeing += r.live_verdict == r.verdict
        live, shadow = set(r.live_classes), set(r.classes)
        for c in live | shadow:
            tally = classes.setdefault(c, [0, 0, 0])
            tally[0] += c in live
            tally[1] += c in shadow
            tally[2] += c in live and c in shadow
    return ShadowAgreement(
        model_id, len(records), agreeing, dict(verdicts), {k: (v[0], v[1], v[2]) for k, v in classes.items()},
        _skipped(reader, model_id, since_epoch), records[0].time if records else None,
        records[-1].time if records else None,
    )  # fmt: skip


def _skipped(reader: ResultsReader, model_id: str, since_epoch: float | None) -> int:
    sql = "SELECT payload FROM events WHERE kind = 'shadow' AND payload IS NOT NULL"
    args: list[Any] = []
    if since_epoch is not None:
        sql += " AND epoch >= ?"
        args.append(float(since_epoch))
    total = 0
    for (payload,) in reader.connection().execute(sql, args):
        try:
            p = json.loads(payload)
        except ValueError:
            continue
        if isinstance(p, dict) and p.get("model_id") == model_id and isinstance(p.get("skipped"), int):
            total += p["skipped"]
    return total


def _record(r: sqlite3.Row) -> ShadowRecord:
    try:
        reasons = json.loads(r["live_reasons"] or "[]")
        live = tuple(sorted({x["class_name"] for x in reasons if x.get("class_name")}))
    except (ValueError, TypeError, AttributeError):
        live = ()
    return ShadowRecord(
        r["id"], r["time"], r["epoch"], r["inspection_id"], r["recipe"], r["model_id"], r["model_sha256"],
        r["live_verdict"], r["verdict"], tuple(json.loads(r["classes"] or "[]")), live, r["t_detect_ms"],
    )  # fmt: skip
