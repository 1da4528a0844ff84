"""reports.py: summary numbers, CSV export and the ``results`` CLI, on a real database."""

from __future__ import annotations

import argparse
import csv
import io
import json
from datetime import UTC, datetime
from pathlib import Path

import pytest

from inspect_app.config import StoreConfig
from inspect_app.store import ImageArchive, SqliteResultStore, open_readonly
from inspect_app.store.reports import (
    add_results_arguments,
    cli_results,
    export_csv,
    format_table,
    parse_when,
    summary,
)
from inspect_app.types import Decision, Detection, Inspection, Reason, Severity, StatusEvent, Verdict

H10 = datetime(2024, 5, 1, 10, 0, tzinfo=UTC).timestamp()
H11 = datetime(2024, 5, 1, 11, 0, tzinfo=UTC).timestamp()


def inspection(
    i: int, t: float, verdict: Verdict, cls: str | None = None, code: str | None = None
) -> Inspection:
    dets = (Detection(0, cls, 0.8, (1.0, 1.0, 5.0, 5.0)),) if cls else ()
    reasons = (
        tuple(Reason("DEFECT", f"{cls} 0.80", cls, 0.8, d.box) for d in dets)
        if verdict is Verdict.FAIL
        else ()
    )
    if code:
        reasons = (Reason(code, "camera timeout"),)
    return Inspection(
        part_id=f"p{i}", trigger_id=i, trigger_source="external", station="st", recipe="pcb",
        model_id="m", model_sha256=None, decision=Decision(verdict, reasons, code), detections=dets,
        timings_ms={}, frame_id=i, captured_at=t, source="cam",
    )  # fmt: skip


@pytest.fixture
def db(tmp_path: Path) -> Path:
    cfg = StoreConfig()
    store = SqliteResultStore(tmp_path / "results.db", ImageArchive(tmp_path / "images", cfg), cfg, "st")
    store.start()
    plan = [  # hour 10: 3 PASS, 1 FAIL short; hour 11: 1 PASS (with a non-failing detection), 2 FAIL, 1 N/I
        (H10 + 1, Verdict.PASS, None, None), (H10 + 2, Verdict.PASS, None, None),
        (H10 + 3, Verdict.FAIL, "short", None), (H10 + 4, Verdict.PASS, None, None),
        (H11 + 1, Verdict.PASS, "open", None), (H11 + 2, Verdict.FAIL, "short", None),
        (H11 + 3, Verdict.FAIL, "open", None), (H11 + 4, Verdict.NOT_INSPECTED, None, "CAMERA_ERROR"),
    ]  # fmt: skip
    for i, (t, v, cls, code) in enumerate(plan):
        store.submit(inspection(i, t, v, cls, code))
    store.record_event(StatusEvent("recipe", Severity.INFO, "recipe pcb", time=H10))
    store.close()
    return tmp_path / "results.db"


def test_summary_numbers(db: Path) -> None:
    s = summary(open_readonly(db), last=2)
    # yield of decided parts: 4 / (4 + 3); the part not inspected is neither good nor bad
    assert (s["total"], s["pass"], s["fail"], s["not_inspected"], s["yield_pct"]) == (8, 4, 3, 1, 57.14)
    assert s["per_hour"] == [
        {
            "hour": "2024-05-01T10:00Z",
            "total": 4,
            "pass": 3,
            "fail": 1,
            "not_inspected": 0,
            "yield_pct": 75.0,
        },
        {
            "hour": "2024-05-01T11:00Z",
            "total": 4,
            "pass": 1,
            "fail": 2,
            "not_inspected": 1,
            "yield_pct": 33.33,
        },
    ]
    assert s["defects_per_class"] == [
        {"class_name": "short", "detections": 2, "parts": 2, "failed_parts": 2},
        {"class_name": "open", "detections": 2, "parts": 2, "failed_parts": 1},
    ]
    assert s["not_inspected_by_error"] == {"CAMERA_ERROR": 1}
    assert [f["part_id"] for f in s["last_fails"]] == ["p6", "p5"]  # newest first, limited to --last
    assert s["last_fails"][0]["reasons"][0]["class_name"] == "open"


def test_summary_time_window(db: Path) -> None:
    s = summary(open_readonly(db), since=datetime.fromtimestamp(H11, UTC), until=None)
    assert (s["total"], s["pass"], s["yield_pct"]) == (4, 1, 33.33)
    s = summary(open_readonly(db), since=None, until=datetime.fromtimestamp(H11, UTC))
    assert (s["total"], s["fail"]) == (4, 1)
    empty = summary(open_readonly(db), since=datetime(2030, 1, 1, tzinfo=UTC), until=None)
    assert empty["total"] == 0 and empty["yield_pct"] is None and empty["last_fails"] == []


def test_export_csv_tables(db: Path) -> None:
    conn = open_readonly(db)
    out = io.StringIO()
    assert export_csv(conn, out, None, None, "inspections") == 8
    rows = list(csv.DictReader(io.StringIO(out.getvalue())))
    assert [r["part_id"] for r in rows] == [f"p{i}" for i in range(8)] and rows[2]["verdict"] == "FAIL"
    out = io.StringIO()
    assert export_csv(conn, out, datetime.fromtimestamp(H11, UTC), None, "detections") == 3
    assert {"class_name", "x1", "time", "part_id"} <= set(out.getvalue().splitlines()[0].split(","))
    out = io.StringIO()
    assert export_csv(conn, out, None, None, "events") == 1
    with pytest.raises(ValueError):
        export_csv(conn, io.StringIO(), None, None, "sqlite_master")


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="inspect-app")
    add_results_arguments(p.add_subparsers(dest="command"))
    return p


def test_cli_summary_human_and_json(db: Path, capsys: pytest.CaptureFixture[str]) -> None:
    args = parser().parse_args(["results", "summary", "--db", str(db), "--last", "1"])
    assert args.func is cli_results and cli_results(args) == 0
    text = capsys.readouterr().out
    assert "Yield per hour (UTC)" in text and "2024-05-01T11:00Z" in text
    header = next(line for line in text.splitlines() if line.startswith("total"))
    values = text.splitlines()[text.splitlines().index(header) + 2]
    assert header.index("yield %") + len("yield %") == len(values)  # right-aligned under its header
    args = parser().parse_args(
        ["results", "summary", "--db", str(db), "--json", "--since", "2024-05-01T11:00Z"]
    )
    assert cli_results(args) == 0
    assert json.loads(capsys.readouterr().out)["total"] == 4


def test_cli_export_to_file_and_missing_db(
    db: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "d.csv"
    args = parser().parse_args(["results", "export", "--csv", "--db", str(db), "--table", "detections",
                                "--out", str(out)])  # fmt: skip
    assert cli_results(args) == 0
    assert len(out.read_text().splitlines()) == 1 + 4
    args = parser().parse_args(["results", "summary", "--db", str(tmp_path / "nope.db")])
    assert cli_results(args) == 2
    assert "no such database" in capsys.readouterr().err
    assert not (tmp_path / "nope.db").exists()  # a reader never creates the file


def test_parse_when_and_table() -> None:
    now = datetime(2024, 5, 8, 12, 0, tzinfo=UTC)
    assert parse_when("7d", now) == datetime(2024, 5, 1, 12, 0, tzinfo=UTC)
    assert parse_when("90m", now) == datetime(2024, 5, 8, 10, 30, tzinfo=UTC)
    assert parse_when("2024-05-01T10:00:00Z") == datetime(2024, 5, 1, 10, 0, tzinfo=UTC)
    with pytest.raises(argparse.ArgumentTypeError):
        parse_when("yesterday")
    assert format_table(["a", "n"], [["x", 1], ["yy", 22.5]]).splitlines() == [
        "a       n",
        "--  -----",
        "x       1",
        "yy  22.50",
    ]
