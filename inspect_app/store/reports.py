"""Answers to a quality engineer's questions, read-only, plus the ``results`` CLI.

Everything here takes a connection from ``open_readonly``, so it can run while the station writes (WAL),
and can never change the data. Times in and out are UTC; naive datetimes given to these functions are
taken as local time (``datetime.timestamp`` semantics). Yield % is PASS / all parts (NOT_INSPECTED parts
are not good parts), ``None`` when there are none.
"""

from __future__ import annotations

import argparse
import csv
import json
import re
import sqlite3
import sys
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, TextIO

from inspect_app.metrics import yield_pct
from inspect_app.store.schema import StoreError, iso_utc, open_readonly

DEFAULT_DB = "var/results.db"
TABLES = ("inspections", "detections", "events")
_REL_RE = re.compile(r"^(\d+(?:\.\d+)?)\s*([smhdw])$")
_UNITS = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days", "w": "weeks"}


def _where(since: datetime | None, until: datetime | None, col: str = "time") -> tuple[str, list[str]]:
    clauses, params = [], []
    if since is not None:
        clauses.append(f"{col} >= ?")
        params.append(iso_utc(since.timestamp()))
    if until is not None:
        clauses.append(f"{col} < ?")
        params.append(iso_utc(until.timestamp()))
    return (" AND ".join(clauses) or "1"), params




def summary(
    conn: sqlite3.Connection, since: datetime | None = None, until: datetime | None = None, last: int = 10
) -> dict[str, Any]:
    """Counts, yield, yield per UTC hour, defects per class, NOT_INSPECTED causes and the last fails."""
    where, params = _where(since, until, "i.time")
    counts = {"PASS": 0, "FAIL": 0, "NOT_INSPECTED": 0}
    sql = f"SELECT verdict, count(*) FROM inspections i WHERE {where} GROUP BY 1"
    for verdict, n in conn.execute(sql, params):
        counts[verdict] = counts.get(verdict, 0) + n
    total = sum(counts.values())
    per_hour = [
        {"hour": f"{h}:00Z", "total": t, "pass": p, "fail": f, "not_inspected": ni,
         "yield_pct": yield_pct(p, f)}
        for h, t, p, f, ni in conn.execute(
            "SELECT substr(i.time, 1, 13), count(*), sum(i.verdict = 'PASS'), sum(i.verdict = 'FAIL'),"
            f" sum(i.verdict = 'NOT_INSPECTED') FROM inspections i WHERE {where} GROUP BY 1 ORDER BY 1",
            params,
        )
    ]
    classes: dict[str, dict[str, Any]] = {}
    for name, dets, parts in conn.execute(
        "SELECT d.class_name, count(*), count(DISTINCT d.inspection_id) FROM detections d"
        f" JOIN inspections i ON i.id = d.inspection_id WHERE {where} GROUP BY 1",
        params,
    ):
        classes[name] = {"class_name": name, "detections": dets, "parts": parts, "failed_parts": 0}
    # failed_parts counts what the decider blamed (reasons), not every raw detection of the class
    for name, failed in conn.execute(
        "SELECT json_extract(r.value, '$.class_name') AS c, count(DISTINCT i.id)"
        f" FROM inspections i, json_each(i.reasons) r WHERE i.verdict = 'FAIL' AND {where} AND c IS NOT NULL"
        " GROUP BY 1",
        params,
    ):
        classes.setdefault(name, {"class_name": name, "detections": 0, "parts": 0, "failed_parts": 0})
        classes[name]["failed_parts"] = failed
    not_inspected = {
        code or "?": n
        for code, n in conn.execute(
            "SELECT error_code, count(*) FROM inspections i"
            f" WHERE i.verdict = 'NOT_INSPECTED' AND {where} GROUP BY 1 ORDER BY 2 DESC",
            params,
        )
    }
    last_fails = [
        {"id": i, "time": t, "part_id": part, "recipe": recipe, "reasons": json.loads(reasons or "[]"),
         "image_path": None if deleted else img}
        for i, t, part, recipe, reasons, img, deleted in conn.execute(
            "SELECT i.id, i.time, i.part_id, i.recipe, i.reasons, i.image_path, i.image_deleted"
            f" FROM inspections i WHERE i.verdict = 'FAIL' AND {where} ORDER BY i.id DESC LIMIT ?",
            [*params, last],
        )
    ]  # fmt: skip
    return {
        "since": since.isoformat() if since else None,
        "until": until.isoformat() if until else None,
        "total": total,
        "pass": counts["PASS"],
        "fail": counts["FAIL"],
        "not_inspected": counts["NOT_INSPECTED"],
        "yield_pct": yield_pct(counts["PASS"], counts["FAIL"]),
        "per_hour": per_hour,
        "defects_per_class": sorted(classes.values(), key=lambda c: (-c["failed_parts"], -c["detections"])),
        "not_inspected_by_error": not_inspected,
        "last_fails": last_fails,
    }


def export_csv(
    conn: sqlite3.Connection,
    out: TextIO,
    since: datetime | None = None,
    until: datetime | None = None,
    table: str = "inspections",
) -> int:
    """Write one table as CSV with a header row; returns the number of data rows.

    ``detections`` rows get their inspection's time, part_id and verdict, so the file stands on its own.
    """
    if table not in TABLES:
        raise ValueError(f"table must be one of {', '.join(TABLES)}")
    if table == "detections":
        where, params = _where(since, until, "i.time")
        sql = (
            "SELECT d.*, i.time, i.part_id, i.verdict FROM detections d"
            f" JOIN inspections i ON i.id = d.inspection_id WHERE {where} ORDER BY d.id"
        )
    else:
        where, params = _where(since, until)
        sql = f"SELECT * FROM {table} WHERE {where} ORDER BY id"
    cur = conn.execute(sql, params)
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow([c[0] for c in cur.description])
    n = 0
    for row in cur:
        writer.writerow(tuple(row))
        n += 1
    return n


# ---------------------------------------------------------------- plain-text tables
def format_table(headers: list[str], rows: list[list[Any]]) -> str:
    """Aligned columns: numbers right, text left; None shows as '-'."""
    cells = [[_cell(v) for v in r] for r in rows]
    numeric = [all(isinstance(r[i], int | float) or r[i] is None for r in rows) for i in range(len(headers))]
    widths = [max([len(h)] + [len(r[i]) for r in cells]) for i, h in enumerate(headers)]

    def line(values: list[str]) -> str:
        parts = [v.rjust(w) if num else v.ljust(w) for v, w, num in zip(values, widths, numeric, strict=True)]
        return "  ".join(parts).rstrip()

    return "\n".join([line(headers), line(["-" * w for w in widths]), *(line(r) for r in cells)])


def _cell(v: Any) -> str:
    if v is None:
        return "-"
    if isinstance(v, float):
        return f"{v:.2f}"
    return str(v)


def format_summary(s: dict[str, Any]) -> str:
    out = [f"Results {s['since'] or 'start'} .. {s['until'] or 'now'}", ""]
    out.append(format_table(
        ["total", "pass", "fail", "not_inspected", "yield %"],
        [[s["total"], s["pass"], s["fail"], s["not_inspected"], s["yield_pct"]]],
    ))  # fmt: skip
    if s["per_hour"]:
        out += ["", "Yield per hour (UTC)"]
        out.append(format_table(
            ["hour", "total", "pass", "fail", "not_inspected", "yield %"],
            [[h["hour"], h["total"], h["pass"], h["fail"], h["not_inspected"], h["yield_pct"]]
             for h in s["per_hour"]],
        ))  # fmt: skip
    if s["defects_per_class"]:
        out += ["", "Defects per class"]
        out.append(format_table(
            ["class", "failed parts", "detections", "parts with detections"],
            [[c["class_name"], c["failed_parts"], c["detections"], c["parts"]]
             for c in s["defects_per_class"]],
        ))  # fmt: skip
    if s["not_inspected_by_error"]:
        out += ["", "Not inspected, by error"]
        out.append(format_table(["error", "parts"], [[k, v] for k, v in s["not_inspected_by_error"].items()]))
    if s["last_fails"]:
        out += ["", f"Last {len(s['last_fails'])} fails"]
        rows = [
            [f["id"], f["time"][:19], f["part_id"], "; ".join(r["message"] for r in f["reasons"]) or "-",
             f["image_path"]]
            for f in s["last_fails"]
        ]  # fmt: skip
        out.append(format_table(["id", "time (UTC)", "part", "reasons", "image"], rows))
    return "\n".join(out)


# ---------------------------------------------------------------- CLI glue
def parse_when(text: str, now: datetime | None = None) -> datetime:
    """'24h', '7d', '30m', '2w', '90s' (ago) or an ISO-8601 time; naive ISO times are local time."""
    m = _REL_RE.match(text.strip())
    if m:
        now = now or datetime.now().astimezone()
        return now - timedelta(**{_UNITS[m.group(2)]: float(m.group(1))})
    try:
        return datetime.fromisoformat(text.strip())
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r}: expected an ISO-8601 time or e.g. 24h, 7d") from None


def add_results_arguments(subparsers: argparse._SubParsersAction) -> argparse.ArgumentParser:
    """Adds ``results summary`` and ``results export``; the parser's default ``func`` is cli_results."""
    results = subparsers.add_parser("results", help="inspection results: summary and CSV export")
    sub = results.add_subparsers(dest="results_command", required=True)

    def common(p: argparse.ArgumentParser) -> None:
        p.add_argument("--db", default=DEFAULT_DB, help=f"results database (default {DEFAULT_DB})")
        p.add_argument("--since", type=parse_when, help="ISO time or age such as 24h, 7d")
        p.add_argument("--until", type=parse_when, help="ISO time or age such as 1h")

    s = sub.add_parser("summary", help="counts, yield, yield per hour, defects per class, last fails")
    common(s)
    s.add_argument("--last", type=int, default=10, metavar="N", help="how many recent fails to list")
    s.add_argument("--json", action="store_true", help="machine-readable output")
    e = sub.add_parser("export", help="export a table as CSV")
    common(e)
    e.add_argument("--csv", action="store_true", default=True, help="CSV output (the only format)")
    e.add_argument("--out", help="output file (default: stdout)")
    e.add_argument("--table", choices=TABLES, default="inspections")
    results.set_defaults(func=cli_results)
    return results


def cli_results(args: argparse.Namespace) -> int:
    try:
        conn = open_readonly(args.db)
    except StoreError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    try:
        if args.results_command == "summary":
            s = summary(conn, args.since, args.until, last=args.last)
            print(json.dumps(s, indent=2) if args.json else format_summary(s))
            return 0
        if args.out:
            with Path(args.out).open("w", newline="", encoding="utf-8") as f:
                n = export_csv(conn, f, args.since, args.until, args.table)
            print(f"{n} {args.table} rows written to {args.out}", file=sys.stderr)
        else:
            export_csv(conn, sys.stdout, args.since, args.until, args.table)
        return 0
    except sqlite3.Error as exc:
        print(f"error: {args.db}: {exc}", file=sys.stderr)
        return 1
    finally:
        conn.close()
