"""The one read side of results.db, tested once for every reader (window, OPC UA, exports, replay)."""

from __future__ import annotations

import sqlite3
from dataclasses import replace
from pathlib import Path

import pytest

from inspect_app.config import StoreConfig
from inspect_app.store import ImageArchive, SqliteResultStore, StoreError
from inspect_app.store.read import ResultsReader
from inspect_app.store.schema import AuditEntry, Review
from inspect_app.testing.fakes import wait_until
from inspect_app.types import Decision, Detection, Inspection, Reason, Verdict

T0 = 1_700_000_000.0


def _inspection(i: int, verdict: Verdict, recipe: str = "a") -> Inspection:
    dets = (Detection(3, "short", 0.9, (1.0, 2.0, 3.0, 4.0 + i)),) if verdict is Verdict.FAIL else ()
    reasons = (Reason("DEFECT", "short", "short", 0.9, dets[0].box),) if dets else ()
    return Inspection(
        part_id=f"p{i}", trigger_id=i, trigger_source="software", station="st", recipe=recipe, model_id="m/1",
        model_sha256=None, decision=Decision(verdict, reasons), detections=dets,
        timings_ms={"detect": 1.0, "frame_age": 12.5}, frame_id=i, captured_at=T0 + i, source="cam",
        image=None,
    )  # fmt: skip


@pytest.fixture
def db(tmp_path: Path) -> Path:
    cfg = StoreConfig(reserve_mb=0)
    store = SqliteResultStore(tmp_path / "results.db", ImageArchive(tmp_path / "images", cfg), cfg, "st")
    store.start()
    for i in range(10):
        store.submit(_inspection(i, Verdict.FAIL if i % 3 == 0 else Verdict.PASS, "a" if i < 5 else "b"))
    assert wait_until(lambda: store.counts()["total"] == 10)
    store.record_review(Review(1, "false_reject", "qe", "short", (1.0, 2.0, 3.0, 4.0))).result(10)
    store.record_review(Review(4, "confirmed_defect", "qe")).result(10)
    store.record_audit(AuditEntry("eve", "engineer", "recipe.edit", "a", None, "{}")).result(10)
    store.close()
    return tmp_path / "results.db"


def test_records_detections_reviews_and_audit(db: Path) -> None:
    with ResultsReader(db) as r:
        rec = r.inspection(1)
        assert rec is not None and (rec.part_id, rec.verdict, rec.recipe) == ("p0", "FAIL", "a")
        assert rec.detections is not None and rec.detections[0].box == (1.0, 2.0, 3.0, 4.0)
        assert rec.failed_classes == ["short"] and rec.timings["frame_age"] == 12.5 and not rec.image_kept
        assert r.inspection(99) is None
        assert [x.part_id for x in r.recent(3)] == ["p9", "p8", "p7"]
        assert [x.part_id for x in r.filtered(verdict="fail")] == ["p9", "p6", "p3", "p0"]
        assert [x.part_id for x in r.filtered(part_id="p2")] == ["p2"]
        assert [x.id for x in r.after(8)] == [9, 10]
        assert [x.part_id for x in r.after(None, since_epoch=T0 + 8)] == ["p8", "p9"]
        assert r.newest_id() == 10 and r.class_ids() == {3: {"short"}}
        reviews = r.reviews()
        assert [(v.inspection_id, v.kind, v.box) for v in reviews] == [
            (1, "false_reject", (1.0, 2.0, 3.0, 4.0)), (4, "confirmed_defect", None)]  # fmt: skip
        assert [v.kind for v in r.reviews(4)] == ["confirmed_defect"]
        assert [(a.who, a.action) for a in r.audit(5)] == [("eve", "recipe.edit")]


def test_range_iteration_in_batches_with_filters(db: Path) -> None:
    with ResultsReader(db) as r:
        everything = list(r.iter_range(batch=3))
        assert [x.id for x in everything] == list(range(1, 11)) and everything[0].detections
        assert [x.part_id for x in r.iter_range(recipe="b", batch=2)] == ["p5", "p6", "p7", "p8", "p9"]
        assert [x.id for x in r.iter_range(reviewed=True)] == [1, 4]
        assert len(list(r.iter_range(reviewed=False))) == 8
        assert [x.part_id for x in r.iter_range(since_epoch=T0 + 3, until_epoch=T0 + 5)] == ["p3", "p4"]


def test_read_only_and_absent(db: Path, tmp_path: Path) -> None:
    with ResultsReader(db) as r, pytest.raises(sqlite3.OperationalError):
        r.connection().execute("DELETE FROM inspections")
    with pytest.raises(StoreError):
        ResultsReader(tmp_path / "nothing.db").recent(1)


def test_the_gallery_lists_only_rejects_whose_image_is_written(tmp_path: Path) -> None:
    """Between a row's commit and its image's write (the next transaction records its sha256) the path
    has no file behind it: such a row is not a reject with an image yet."""
    import numpy as np

    cfg = StoreConfig(reserve_mb=0)
    store = SqliteResultStore(tmp_path / "results.db", ImageArchive(tmp_path / "images", cfg), cfg, "st")
    store.start()
    for i in range(3):
        store.submit(replace(_inspection(i, Verdict.FAIL), image=np.full((32, 32, 3), 60 + i, np.uint8)))
    assert wait_until(lambda: store.counts()["total"] == 3)
    store.close()
    with sqlite3.connect(tmp_path / "results.db") as c:  # row 3 as it is while its image is being written
        c.execute("UPDATE inspections SET image_sha256 = NULL WHERE id = 3")
    with ResultsReader(tmp_path / "results.db") as r:
        assert [x.id for x in r.rejects_with_images(10)] == [2, 1]
