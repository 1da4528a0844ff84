"""ImageArchive: sampling, atomic write + sha256, orphan cleanup, ENOSPC from the write path."""

from __future__ import annotations

import errno
import hashlib
import os
import time
from pathlib import Path

import cv2
import numpy as np
import pytest

from inspect_app.config import RetentionConfig, StoreConfig
from inspect_app.store import FileOps, ImageArchive, SqliteResultStore, open_readonly
from inspect_app.types import Decision, Inspection, Severity, StatusEvent, Verdict

RNG = np.random.default_rng(0)


def frame(h: int = 48, w: int = 64) -> np.ndarray:
    return RNG.integers(0, 255, (h, w, 3), dtype=np.uint8)


def make_inspection(i: int, verdict: Verdict, image: np.ndarray | None = None) -> Inspection:
    return Inspection(
        part_id=f"p/{i}", trigger_id=i, trigger_source="external", station="st", recipe="r", model_id="m",
        model_sha256=None, decision=Decision(verdict), detections=(), timings_ms={}, frame_id=i,
        captured_at=1_700_000_000.0 + i, source="cam", image=image if image is not None else frame(),
    )  # fmt: skip


class RecordingFS(FileOps):
    """Real file operations, logged; optionally out of space after ``budget`` bytes (a real partial
    write, then the same OSError the kernel raises)."""

    def __init__(self, budget: int | None = None) -> None:
        self.calls: list[tuple[str, str]] = []
        self.budget = budget

    def write_file(self, path: Path, data: bytes) -> None:
        self.calls.append(("write", str(path)))
        if self.budget is not None and len(data) > self.budget:
            with open(path, "xb") as f:
                f.write(data[: self.budget])
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), str(path))
        super().write_file(path, data)

    def replace(self, src: Path, dst: Path) -> None:
        self.calls.append(("replace", f"{src}->{dst}"))
        super().replace(src, dst)

    def fsync_dir(self, path: Path) -> None:
        self.calls.append(("fsync_dir", str(path)))
        super().fsync_dir(path)


def files_under(root: Path) -> list[Path]:
    return sorted(p for p in root.rglob("*") if p.is_file())


def test_sampling_fail_always_pass_one_in_n() -> None:
    arch = ImageArchive("/nonexistent", StoreConfig(save_pass_every=3))
    assert [arch.wants(Verdict.PASS) for _ in range(7)] == [True, False, False, True, False, False, True]
    assert all(arch.wants(Verdict.FAIL) for _ in range(5))
    assert all(arch.wants(Verdict.NOT_INSPECTED) for _ in range(5))
    never = ImageArchive("/nonexistent", StoreConfig(save_pass_every=0))
    assert not any(never.wants(Verdict.PASS) for _ in range(10))


def test_atomic_write_layout_and_sha256(tmp_path: Path) -> None:
    fs = RecordingFS()
    arch = ImageArchive(tmp_path / "images", StoreConfig(image_format="png"), fs=fs)
    img = frame()
    saved = arch.save(img, verdict=Verdict.FAIL, key="0000000007_p/7", captured_at=1_700_000_000.0)
    assert saved.path == "images/2023-11-14/FAIL/0000000007_p_7.png"
    final = tmp_path / saved.path
    assert hashlib.sha256(final.read_bytes()).hexdigest() == saved.sha256
    assert np.array_equal(cv2.imread(str(final)), img)  # png is lossless: the very frame
    assert files_under(tmp_path / "images") == [final]  # no temp file left
    # temp file in the same folder, then rename, then the folder fsynced
    writes = [c for c in fs.calls if c[0] == "write"]
    assert (
        len(writes) == 1
        and Path(writes[0][1]).parent == final.parent
        and Path(writes[0][1]).name.startswith(".")
    )
    i_rep = fs.calls.index(("replace", f"{writes[0][1]}->{final}"))
    assert ("fsync_dir", str(final.parent)) in fs.calls[i_rep + 1 :]
    assert arch.usage_bytes == final.stat().st_size


def test_enospc_mid_write_leaves_nothing(tmp_path: Path) -> None:
    arch = ImageArchive(tmp_path / "images", StoreConfig(), fs=RecordingFS(budget=100))
    with pytest.raises(OSError) as info:
        arch.save(frame(), verdict=Verdict.FAIL, key="k", captured_at=1_700_000_000.0)
    assert info.value.errno == errno.ENOSPC
    assert files_under(tmp_path / "images") == []
    assert arch.usage_bytes == 0


def test_cleanup_orphans(tmp_path: Path) -> None:
    arch = ImageArchive(tmp_path / "images", StoreConfig())
    saved = [
        arch.save(frame(), verdict=Verdict.FAIL, key=f"k{i}", captured_at=1_700_000_000.0) for i in range(3)
    ]
    folder = (tmp_path / saved[0].path).parent
    (folder / ".k9.jpg.123.tmp").write_bytes(b"half")
    (folder / "notes.txt").write_text("not ours")
    asked: list[str] = []

    def referenced(day: str) -> set[str]:
        asked.append(day)
        return {saved[1].path}

    report = arch.cleanup_orphans(referenced)
    assert asked == ["2023-11-14"]
    assert (report.images, report.temp_files) == (2, 1)
    assert set(report.paths) == {saved[0].path, saved[2].path}
    assert sorted(p.name for p in files_under(tmp_path / "images")) == ["k1.jpg", "notes.txt"]
    assert arch.usage_bytes == (tmp_path / saved[1].path).stat().st_size + len("not ours")


def test_store_saves_fail_always_pass_sampled_with_matching_sha(tmp_path: Path) -> None:
    cfg = StoreConfig(save_pass_every=5, jpeg_quality=80)
    store = SqliteResultStore(tmp_path / "results.db", ImageArchive(tmp_path / "images", cfg), cfg, "st")
    paths: list[str | None] = []
    store.add_commit_listener(lambda c: paths.append(c.image_path))
    store.start()
    verdicts = [Verdict.PASS] * 12 + [Verdict.FAIL] * 3 + [Verdict.NOT_INSPECTED]
    for i, v in enumerate(verdicts):
        store.submit(make_inspection(i, v))
    store.close()
    conn = open_readonly(tmp_path / "results.db")
    rows = conn.execute("SELECT verdict, image_path, image_sha256 FROM inspections ORDER BY id").fetchall()
    saved = [r for r in rows if r["image_path"]]
    assert [r["verdict"] for r in saved] == ["PASS", "PASS", "PASS", "FAIL", "FAIL", "FAIL", "NOT_INSPECTED"]
    assert [i for i, r in enumerate(rows) if r["image_path"] and r["verdict"] == "PASS"] == [0, 5, 10]
    assert paths == [r["image_path"] for r in rows]  # listeners get the same path as the row
    for r in saved:
        p = tmp_path / r["image_path"]
        assert r["image_path"].split("/")[2] == r["verdict"]
        assert hashlib.sha256(p.read_bytes()).hexdigest() == r["image_sha256"]
        assert cv2.imread(str(p)).shape == (48, 64, 3)
    assert len(files_under(tmp_path / "images")) == len(saved)


def test_store_start_removes_orphans_and_records_event(tmp_path: Path) -> None:
    cfg = StoreConfig()
    store = SqliteResultStore(tmp_path / "results.db", ImageArchive(tmp_path / "images", cfg), cfg, "st")
    store.start()
    for i in range(3):
        store.submit(make_inspection(i, Verdict.FAIL))
    store.close()
    kept = files_under(tmp_path / "images")
    assert len(kept) == 3
    # what a crash between image write and commit leaves behind
    orphan = kept[0].parent / "0000000099_p_99.jpg"
    orphan.write_bytes(b"\xff\xd8 orphan")
    (kept[0].parent / ".0000000100_x.jpg.42.tmp").write_bytes(b"partial")
    events: list[StatusEvent] = []
    again = SqliteResultStore(tmp_path / "results.db", ImageArchive(tmp_path / "images", cfg), cfg, "st")
    again.add_event_listener(events.append)
    again.start()
    again.close()
    assert files_under(tmp_path / "images") == kept
    assert [(e.kind, e.payload["images"], e.payload["temp_files"]) for e in events] == [("store", 1, 1)]
    row = open_readonly(tmp_path / "results.db").execute("SELECT payload FROM events").fetchone()
    assert "0000000099_p_99.jpg" in row[0]


def test_enospc_from_write_path_alarms_keeps_rows_and_recovers(tmp_path: Path) -> None:
    cfg = StoreConfig(retention=RetentionConfig(min_free_mb=0, resume_free_mb=0, stop_saving_free_mb=0,
                                                check_interval_s=1.0))  # fmt: skip
    fs = RecordingFS(budget=50)
    arch = ImageArchive(tmp_path / "images", cfg, free_space_probe=lambda p: 10**12, fs=fs)
    store = SqliteResultStore(tmp_path / "results.db", arch, cfg, "st")
    events: list[StatusEvent] = []
    store.add_event_listener(events.append)
    store.start()
    for i in range(3):
        store.submit(make_inspection(i, Verdict.FAIL))
    deadline = time.monotonic() + 5
    # images are written just after their rows commit: the rows may be counted before the write fails
    while (store.counts()["total"] < 3 or store.saving_images) and time.monotonic() < deadline:
        time.sleep(0.01)
    assert store.counts()["total"] == 3 and not store.saving_images
    alarms = [e for e in events if e.kind == "disk" and e.severity is Severity.ERROR]
    assert len(alarms) == 1  # one alarm, not one per frame
    fs.budget = None  # space is back; the next periodic check resumes saving
    deadline = time.monotonic() + 5
    while not store.saving_images and time.monotonic() < deadline:
        time.sleep(0.01)
    assert store.saving_images and events[-1].severity is Severity.INFO
    store.submit(make_inspection(3, Verdict.FAIL))
    store.close()
    rows = (
        open_readonly(tmp_path / "results.db")
        .execute("SELECT image_path, timings FROM inspections ORDER BY id")
        .fetchall()
    )
    assert [r["image_path"] is None for r in rows] == [True, True, True, False]
    assert "write failed" in rows[0]["timings"]  # later frames either failed too or were not tried
    assert all("write failed" in r["timings"] or "stopped" in r["timings"] for r in rows[1:3])
    assert len(files_under(tmp_path / "images")) == 1  # no partial or temp files from the failures


class HangingDisk(FileOps):
    """Image writes wait for a gate: a slow disk, or one that fsyncs for long."""

    def __init__(self) -> None:
        import threading

        self.gate = threading.Event()

    def write_file(self, path: Path, data: bytes) -> None:
        self.gate.wait(10)
        super().write_file(path, data)


def test_the_verdict_is_committed_and_signalled_before_its_image_is_written(tmp_path: Path) -> None:
    """JPEG encoding and fsync are off the way from the verdict to the PLC: the row commits and the listeners
    hear of it while the image is still being written; its sha256 follows in the next transaction."""
    import threading

    cfg = StoreConfig(save_pass_every=1, reserve_mb=0)
    disk = HangingDisk()
    store = SqliteResultStore(
        tmp_path / "results.db", ImageArchive(tmp_path / "images", cfg, fs=disk), cfg, "st"
    )
    heard = threading.Event()
    store.add_commit_listener(lambda c: heard.set())
    store.start()
    store.submit(make_inspection(1, Verdict.FAIL, frame()))
    assert heard.wait(10), "the listener waited for the image"
    conn = open_readonly(tmp_path / "results.db")
    path, sha = conn.execute("SELECT image_path, image_sha256 FROM inspections").fetchone()
    assert path and sha is None and not (tmp_path / path).exists()  # committed; image being written
    disk.gate.set()
    store.close()
    path, sha = conn.execute("SELECT image_path, image_sha256 FROM inspections").fetchone()
    assert sha == hashlib.sha256((tmp_path / path).read_bytes()).hexdigest()


def test_an_image_never_written_before_a_crash_is_said_missing_at_the_next_start(tmp_path: Path) -> None:
    cfg = StoreConfig(save_pass_every=1, reserve_mb=0)
    disk = HangingDisk()
    store = SqliteResultStore(
        tmp_path / "results.db", ImageArchive(tmp_path / "images", cfg, fs=disk), cfg, "st"
    )
    store.start()
    store.submit(make_inspection(1, Verdict.FAIL, frame()))
    conn = open_readonly(tmp_path / "results.db")
    deadline = time.monotonic() + 10
    while conn.execute("SELECT count(*) FROM inspections").fetchone()[0] == 0 and time.monotonic() < deadline:
        time.sleep(0.02)
    # the process "dies" here: the store is abandoned with its image unwritten (the gate never opens)
    again = SqliteResultStore(tmp_path / "results.db", ImageArchive(tmp_path / "images2", cfg), cfg, "st")
    again.start()
    again.close()
    path, sha, timings = conn.execute("SELECT image_path, image_sha256, timings FROM inspections").fetchone()
    assert path is None and sha is None and "stopped before the image was written" in timings
    disk.gate.set()
