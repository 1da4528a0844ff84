"""Case 8: retention frees what is needed and no more, oldest PASS images first; disk alarms do not flap,
even with a threshold of 0. A hung store is a stall of the record stage, and the parts triggered meanwhile
are recorded once it moves again.

Free space comes from a fake disk whose free bytes follow the files really present in the image folder, and
write failures from a FileOps that fails like a full disk; the store, its SQLite file and its images are
real.
"""

from __future__ import annotations

import errno
import threading
import time
from pathlib import Path
from typing import Any

import numpy as np

from inspect_app.config import RetentionConfig, StoreConfig
from inspect_app.state import StationState
from inspect_app.station import Station
from inspect_app.store import FileOps, ImageArchive, SqliteResultStore
from inspect_app.testing.fakes import ScriptedDetector, ScriptedSource, part_image, wait_until
from inspect_app.testing.records import rows
from inspect_app.types import Decision, Inspection, StatusEvent, Verdict

MB = 1024 * 1024


class FakeDisk:
    def __init__(self, root: Path, capacity: int) -> None:
        self.root, self.capacity = root, capacity

    def used(self) -> int:
        return sum(p.stat().st_size for p in self.root.rglob("*") if p.is_file()) if self.root.exists() else 0

    def __call__(self, _path: Path) -> int:
        return self.capacity - self.used()


class FullDiskOps(FileOps):
    def __init__(self) -> None:
        self.full = False
        self.gate = threading.Event()
        self.gate.set()

    def write_file(self, path: Path, data: bytes) -> None:
        self.gate.wait()  # a disk that hangs
        if self.full:
            raise OSError(errno.ENOSPC, "No space left on device", str(path))
        super().write_file(path, data)


def _inspection(i: int, verdict: Verdict) -> Inspection:
    rng = np.random.default_rng(i)
    image = rng.integers(0, 255, (320, 320, 3), dtype=np.uint8)  # noise: ~150 kB as JPEG
    return Inspection(
        part_id=f"p{i}",
        trigger_id=i,
        trigger_source="software",
        station="st",
        recipe="r",
        model_id="m",
        model_sha256=None,
        decision=Decision(verdict),
        detections=(),
        timings_ms={},
        frame_id=i,
        captured_at=1_700_000_000.0 + i,
        source="cam",
        image=image,
    )


def _store(tmp_path: Path, retention: RetentionConfig, capacity: int, ops: FileOps | None = None) -> Any:
    cfg = StoreConfig(save_pass_every=1, retention=retention, reserve_mb=0)
    disk = FakeDisk(tmp_path / "images", capacity)
    archive = ImageArchive(tmp_path / "images", cfg, free_space_probe=disk, fs=ops)
    store = SqliteResultStore(tmp_path / "results.db", archive, cfg, "st")
    events: list[StatusEvent] = []
    store.add_event_listener(events.append)
    return store, disk, events


def test_retention_deletes_about_what_is_needed_not_the_archive(tmp_path: Path) -> None:
    # 32 images, 18 FAIL and 14 PASS, interleaved in time, as in the field report
    verdicts = [Verdict.FAIL if i % 16 < 9 else Verdict.PASS for i in range(32)]
    store, _disk, _events = _store(
        tmp_path,
        RetentionConfig(min_free_mb=0, resume_free_mb=0, stop_saving_free_mb=0, check_interval_s=3600),
        capacity=1024 * MB,
    )
    store.start()
    for i, v in enumerate(verdicts):
        store.submit(_inspection(i, v))
    assert wait_until(lambda: store.counts()["total"] == 32, 20)
    store.close()
    files = {f"{p.parent.name}/{p.name}": p.stat().st_size for p in (tmp_path / "images").rglob("*.jpg")}
    assert len(files) == 32
    biggest = max(files.values())

    # now the disk is 1 MB short of resume_free_mb: retention must free about 1 MB
    need = 1 * MB + 4096  # free space ends just under min_free_mb
    retention = RetentionConfig(
        min_free_mb=50, resume_free_mb=51, stop_saving_free_mb=0, check_interval_s=0.05
    )
    used = sum(files.values())
    store, _disk, events = _store(tmp_path, retention, capacity=used + 51 * MB - need)
    store.start()
    assert wait_until(lambda: any("retention deleted" in e.message for e in events), 10)
    store.close()
    left = {f"{p.parent.name}/{p.name}": p.stat().st_size for p in (tmp_path / "images").rglob("*.jpg")}
    freed = sum(files.values()) - sum(left.values())
    assert need <= freed <= need + biggest, f"freed {freed / MB:.2f} MB for {need / MB:.2f} MB needed"
    gone = sorted(n for n in files if n not in left)
    pass_bytes = sum(size for n, size in files.items() if n.startswith("PASS/"))
    assert pass_bytes > need  # so PASS images alone can make the room
    assert all(n.startswith("PASS/") for n in gone), gone  # FAIL images kept while PASS ones remain


def test_disk_alarm_with_a_zero_threshold_does_not_flap(tmp_path: Path) -> None:
    ops = FullDiskOps()
    retention = RetentionConfig(
        min_free_mb=0, resume_free_mb=0, stop_saving_free_mb=0, hysteresis_mb=50, check_interval_s=0.05
    )
    store, disk, events = _store(tmp_path, retention, capacity=1024 * MB, ops=ops)
    store.start()
    disk.capacity = disk.used() + 5 * MB  # 5 MB free: above the threshold of 0, below 0 + hysteresis
    ops.full = True
    for i in range(20):
        store.submit(_inspection(i, Verdict.FAIL))
        time.sleep(0.05)  # 1 s: twenty periodic checks
    assert wait_until(lambda: store.counts()["total"] == 20, 10)
    stops = [e for e in events if "image saving stopped" in e.message]
    resumes = [e for e in events if "image saving resumed" in e.message]
    assert len(stops) == 1 and resumes == [], [e.message for e in events if e.kind == "disk"]
    ops.full = False
    disk.capacity = disk.used() + 60 * MB
    assert wait_until(lambda: any("image saving resumed" in e.message for e in events), 5)
    store.close()
    assert sum("image saving resumed" in e.message for e in events) == 1


def test_a_hung_store_is_a_stall_and_nothing_triggered_meanwhile_is_lost(
    tmp_path: Path, make_config: Any
) -> None:
    cfg = make_config(tmp_path, store={"save_pass_every": 1, "commit_interval_ms": 5, "reserve_mb": 0})
    ops = FullDiskOps()
    images = ImageArchive(Path(cfg.state_dir) / "images", cfg.store, base=cfg.state_dir, fs=ops)
    store = SqliteResultStore(Path(cfg.state_dir) / "results.db", images, cfg.store, station="fault-station")
    st = Station(
        cfg,
        source=ScriptedSource([part_image(False)], loop=True),
        detectors={"fake": ScriptedDetector()},
        store=store,
    )
    st.start()
    ops.gate.clear()  # the next image write blocks: the writer hangs in the middle of a batch
    st.trigger("hangs")
    assert wait_until(lambda: st.state == StationState.ERROR, 10)
    assert st.error_code == "STAGE_STALLED" and "record" in (st.error_text or "")
    for i in range(5):
        st.trigger(f"meanwhile-{i}")  # never blocks the caller, never dropped
    ops.gate.set()
    assert st.wait_for_results(6, 15)
    assert wait_until(lambda: st.supervisor.problem() is None, 5)
    assert st.reset("operator") is True
    st.stop()
    got = {r["part_id"]: r["verdict"] for r in rows(cfg)}
    assert set(got) == {"hangs", *(f"meanwhile-{i}" for i in range(5))}
    assert all(got[f"meanwhile-{i}"] == "NOT_INSPECTED" for i in range(5))
