"""Kill -9 a process writing inspections with images, five times, and check nothing committed is lost,
the file stays intact, and no image is left without a row."""

from __future__ import annotations

import hashlib
import os
import random
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

from inspect_app.config import StoreConfig
from inspect_app.store import ImageArchive, SqliteResultStore, open_readonly
from inspect_app.store.schema import INSPECTION_COLUMNS

# a row's image is written just after its commit: until then image_sha256 is NULL, and the only change a
# committed row may see is its image being confirmed (sha256 filled) or, after a crash, said missing
_IMAGE_COLS = {INSPECTION_COLUMNS.index(c) for c in ("timings", "image_path", "image_sha256")}
_SHA = INSPECTION_COLUMNS.index("image_sha256")


def unchanged(before: tuple, after: tuple | None) -> bool:
    if after is None:
        return False
    if before == after:
        return True
    if before[_SHA] is not None:
        return False
    return all(a == b for k, (a, b) in enumerate(zip(before, after, strict=True)) if k not in _IMAGE_COLS)

WRITER = r"""
import sys, time
import numpy as np
from pathlib import Path
from inspect_app.config import StoreConfig
from inspect_app.store import ImageArchive, SqliteResultStore
from inspect_app.types import Decision, Detection, Inspection, Reason, Verdict

root, run = Path(sys.argv[1]), int(sys.argv[2])
cfg = StoreConfig(batch_size=16, commit_interval_ms=5, save_pass_every=3, queue_size=32)
store = SqliteResultStore(root / "results.db", ImageArchive(root / "images", cfg), cfg, "crash")
store.start()
print("started", flush=True)
rng = np.random.default_rng(run)
verdicts = [Verdict.PASS, Verdict.PASS, Verdict.FAIL, Verdict.NOT_INSPECTED]
i = 0
while True:
    v = verdicts[i % 4]
    dets = (Detection(1, "short", 0.9, (1.0, 2.0, 3.0 + i, 4.0)),) if v is Verdict.FAIL else ()
    reasons = (Reason("DEFECT", "short", "short", 0.9, dets[0].box),) if dets else ()
    store.submit(Inspection(
        part_id=f"r{run}-{i}", trigger_id=i, trigger_source="external", station="crash", recipe="r",
        model_id="m", model_sha256=None, decision=Decision(v, reasons), detections=dets,
        timings_ms={"detect": 1.0}, frame_id=i, captured_at=time.time(), source="synthetic",
        image=rng.integers(0, 255, (96, 96, 3), dtype=np.uint8)))
    i += 1
"""


def snapshot(db: Path) -> dict[int, tuple]:
    if not db.exists():
        return {}
    try:
        conn = open_readonly(db)
        rows = conn.execute(
            "SELECT i.*, group_concat(d.class_name || ':' || d.x2) FROM inspections i"
            " LEFT JOIN detections d ON d.inspection_id = i.id GROUP BY i.id"
        ).fetchall()
    except sqlite3.OperationalError:
        return {}  # not created yet, or tables not there yet
    conn.close()
    return {r[0]: tuple(r) for r in rows}


def test_sigkill_never_loses_committed_rows_or_leaves_orphans(tmp_path: Path) -> None:
    seed = random.randrange(1 << 30)
    rnd = random.Random(seed)
    db = tmp_path / "results.db"
    script = tmp_path / "writer.py"
    script.write_text(WRITER)
    seen: dict[int, tuple] = {}
    for run in range(5):
        proc = subprocess.Popen(
            [sys.executable, str(script), str(tmp_path), str(run)],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        )  # fmt: skip
        if run % 2:  # half the kills land at random moments after start-up, half possibly during it
            assert proc.stdout is not None and proc.stdout.readline().strip() == "started", proc.stderr
        deadline = time.monotonic() + rnd.uniform(0.2, 1.2)
        while time.monotonic() < deadline:
            seen.update(snapshot(db))  # rows a reader saw while the writer ran: committed
            time.sleep(0.02)
        seen.update(snapshot(db))
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(10)
        assert proc.returncode == -signal.SIGKILL, f"seed={seed}: writer ended early: {proc.stderr}"
        proc.stdout.close()  # type: ignore[union-attr]
        proc.stderr.close()  # type: ignore[union-attr]

        conn = sqlite3.connect(db)
        assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok", f"seed={seed}"
        conn.close()
        after = snapshot(db)
        lost = {i: r for i, r in seen.items() if not unchanged(r, after.get(i))}
        assert not lost, f"seed={seed} run={run}: committed rows lost or changed: {list(lost)[:5]}"

        # reopen: start-up removes images whose row never committed
        cfg = StoreConfig()
        store = SqliteResultStore(db, ImageArchive(tmp_path / "images", cfg), cfg, "crash")
        store.start()
        store.close()
        conn = open_readonly(db)
        rows = conn.execute(
            "SELECT image_path, image_sha256 FROM inspections"
            " WHERE image_path IS NOT NULL AND image_deleted = 0"
        ).fetchall()
        conn.close()
        on_disk = {
            p.relative_to(tmp_path).as_posix() for p in (tmp_path / "images").rglob("*") if p.is_file()
        } if (tmp_path / "images").exists() else set()  # fmt: skip
        assert on_disk == {r[0] for r in rows}, f"seed={seed} run={run}: image/row mismatch"
        for path, sha in rows:  # every committed image is complete (fsynced before its row committed)
            assert hashlib.sha256((tmp_path / path).read_bytes()).hexdigest() == sha
    assert len(seen) > 50, f"seed={seed}: too few rows written to mean anything"
