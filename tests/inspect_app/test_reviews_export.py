"""``dataset from-reviews``: reviewed FAIL images exported as YOLO labels corrected by the reviews."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from inspect_app.cli import main
from inspect_app.config import parse_config
from inspect_app.reviews_export import Label, corrected_labels, export_reviews
from inspect_app.station import Station
from inspect_app.store.read import ReviewRecord
from inspect_app.testing.fakes import ScriptedDetector, ScriptedSource, part_image
from inspect_app.types import Detection


def two_defects(image):  # type: ignore[no-untyped-def]
    if int(image[0, 0, 0]) != 255:
        return []
    return [Detection(3, "short", 0.9, (10.0, 10.0, 30.0, 20.0)),
            Detection(1, "pit", 0.8, (40.0, 40.0, 60.0, 50.0))]


@pytest.fixture
def reviewed_db(tmp_path: Path) -> Path:
    cfg = parse_config({
        "state_dir": str(tmp_path / "state"),
        "trigger": {"mode": "software"},
        "store": {"save_pass_every": 0, "commit_interval_ms": 5, "image_format": "png"},
        "recipes": {"r": {"model": "fake", "min_conf": 0.5}},
        "active_recipe": "r",
    })  # fmt: skip
    script = [part_image(d, (100, 80)) for d in (True, False, True, True)]
    st = Station(cfg, source=ScriptedSource(script), detectors={"fake": ScriptedDetector(rule=two_defects)})
    st.start()
    for pid in ("fail-1", "pass-2", "fail-3", "fail-5"):
        st.trigger(pid)
    assert st.wait_for_results(4, timeout=10)
    conn = sqlite3.connect(f"file:{tmp_path / 'state' / 'results.db'}?mode=ro", uri=True)
    ids = dict(conn.execute("select part_id, id from inspections"))
    conn.close()
    st.review(ids["fail-1"], "false_reject", "q", class_name="short", box=(10, 10, 30, 20))
    st.review(ids["fail-1"], "missed_defect", "q", class_name="scratch", box=(0, 60, 40, 80))
    st.review(ids["fail-3"], "confirmed_defect", "q")
    st.review(ids["pass-2"], "missed_defect", "q", class_name="open", box=(5, 5, 15, 15))  # no image kept
    st.review(ids["fail-5"], "false_reject", "q").result(timeout=10)  # nothing wrong at all
    st.stop()
    return tmp_path / "state" / "results.db"


def test_export_applies_reviews_to_labels(reviewed_db: Path, tmp_path: Path) -> None:
    out = tmp_path / "ds"
    s = export_reviews(reviewed_db, out)
    assert s.images == {"train": 3, "val": 0} and s.skipped == {"image not kept": 1}
    labels = {p.stem: p.read_text().splitlines() for p in (out / "labels" / "train").glob("*.txt")}
    first, third, fifth = (labels[k] for k in sorted(labels))
    # class ids are the model's: the detections (pit=1, short=3) fit the project's class list -> scratch=0
    assert sorted(ln.split()[0] for ln in first) == ["0", "1"]  # short dropped, pit kept, scratch added
    scratch = next(ln for ln in first if ln.startswith("0 ")).split()
    assert [float(v) for v in scratch[1:]] == pytest.approx([20 / 80, 70 / 100, 40 / 80, 20 / 100])
    assert sorted(ln.split()[0] for ln in third) == ["1", "3"]
    assert fifth == []  # a background image now
    yaml = (out / "data.yaml").read_text()
    assert "val: images/train" in yaml and '3: "short"' in yaml
    assert len(list((out / "images" / "train").glob("*.png"))) == 3


def test_cli_refuses_non_empty_out_and_unknown_names(reviewed_db: Path, tmp_path: Path) -> None:
    out = tmp_path / "ds"
    out.mkdir()
    (out / "keep.txt").write_text("x")
    assert main(["dataset", "from-reviews", "--out", str(out), "--db", str(reviewed_db)]) == 2
    assert main(["dataset", "from-reviews", "--out", str(tmp_path / "ds2"), "--db", str(reviewed_db),
                 "--names", "short,pit"]) == 2  # the reviews name scratch and open
    assert main(["dataset", "from-reviews", "--out", str(out), "--db", str(reviewed_db), "--overwrite",
                 "--names", "scratch,pit,open,short"]) == 0
    assert (out / "keep.txt").exists() and len(list((out / "labels" / "train").iterdir())) == 3


def test_confirmed_defect_restores_a_dropped_detection() -> None:
    dets = [Label("pit", (0, 0, 10, 10))]
    rows = [
        ReviewRecord(1, "t", 0.0, 7, "false_reject", None, None, "qe", ""),
        ReviewRecord(2, "t", 1.0, 7, "confirmed_defect", "pit", (1, 1, 10, 10), "qe", ""),
    ]
    assert corrected_labels(dets, rows[:1]) == []
    assert corrected_labels(dets, rows) == dets
