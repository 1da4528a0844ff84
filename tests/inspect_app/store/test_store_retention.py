"""Retention by disk watermarks and the low-disk image stop, against a fake disk whose free space
reflects the files really present in the image folder."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np

from inspect_app.config import RetentionConfig, StoreConfig
from inspect_app.store import ImageArchive, SqliteResultStore, open_readonly
from inspect_app.store.schema import iso_utc
from inspect_app.testing.fakes import wait_until
from inspect_app.types import Decision, Inspection, Severity, StatusEvent, Verdict

MB = 1024 * 1024
T0 = 1_700_000_000.0


class FakeDisk:
    """A disk of ``capacity`` bytes holding the image folder plus ``other`` bytes of someone else's."""

    def __init__(self, root: Path, capacity: int = 1024 * MB) -> None:
        self.root = root
        self.capacity = capacity
        self.other = 0

    def used(self) -> int:
        return sum(p.stat().st_size for p in self.root.rglob("*") if p.is_file()) if self.root.exists() else 0

    def __call__(self, path: Path) -> int:
        return self.capacity - self.other - self.used()


def frames(n: int, seed: int) -> list[np.ndarray]:
    rng = np.random.default_rng(seed)
    return [rng.integers(0, 255, (64, 64, 3), dtype=np.uint8) for _ in range(n)]


def jpg_size(img: np.ndarray, quality: int) -> int:
    return len(cv2.imencode(".jpg", img, [cv2.IMWRITE_JPEG_QUALITY, quality])[1])


def make_inspection(i: int, verdict: Verdict, image: np.ndarray) -> Inspection:
    return Inspection(
        part_id=f"p{i}", trigger_id=i, trigger_source="software", station="st", recipe="r", model_id="m",
        model_sha256=None, decision=Decision(verdict), detections=(), timings_ms={}, frame_id=i,
        captured_at=T0 + i, source="cam", image=image,
    )  # fmt: skip



def start_store(tmp_path: Path, retention: RetentionConfig) -> tuple[SqliteResultStore, FakeDisk, list]:
    cfg = StoreConfig(save_pass_every=1, jpeg_quality=90, retention=retention)
    disk = FakeDisk(tmp_path / "images")
    store = SqliteResultStore(
        tmp_path / "results.db", ImageArchive(tmp_path / "images", cfg, free_space_probe=disk), cfg, "st"
    )
    events: list[StatusEvent] = []
    store.add_event_listener(events.append)
    store.start()
    return store, disk, events


def test_retention_deletes_pass_before_fail_oldest_first_and_records_one_event(tmp_path: Path) -> None:
    old = frames(10, 1)  # ids 1..10: FAIL / NOT_INSPECTED alternating, the oldest rows
    new = frames(10, 2)  # ids 11..20: PASS, newer
    s_old = [jpg_size(f, 90) for f in old]
    s_new = [jpg_size(f, 90) for f in new]
    m = 1.0
    free0 = int(m * MB) - 1
    # the goal is reached once all PASS and exactly the two oldest non-PASS images are gone
    need = sum(s_new) + s_old[0] + s_old[1] // 2
    resume = (free0 + need) / MB
    store, disk, events = start_store(
        tmp_path,
        RetentionConfig(min_free_mb=m, resume_free_mb=resume, stop_saving_free_mb=0, check_interval_s=0.05),
    )
    store.guard.chunk = 2  # several bounded steps, so ordering across chunks is exercised
    for i, f in enumerate(old, start=1):
        store.submit(make_inspection(i, Verdict.FAIL if i % 2 else Verdict.NOT_INSPECTED, f))
    for i, f in enumerate(new, start=11):
        store.submit(make_inspection(i, Verdict.PASS, f))
    assert wait_until(lambda: store.counts()["total"] == 20)
    # images are written just after their rows commit
    assert wait_until(lambda: disk.used() == sum(s_old) + sum(s_new))
    disk.other = disk.capacity - disk.used() - free0  # free space now just below min_free_mb
    assert wait_until(lambda: any(e.kind == "disk" and "retention" in e.message for e in events))
    store.close()

    conn = open_readonly(tmp_path / "results.db")
    rows = {r["id"]: r for r in conn.execute("SELECT id, image_path, image_deleted FROM inspections")}
    deleted = sorted(i for i, r in rows.items() if r["image_deleted"])
    assert deleted == [1, 2, *range(11, 21)]
    for i, r in rows.items():
        assert (tmp_path / r["image_path"]).exists() == (i not in deleted)
    summary = [e for e in events if "retention" in e.message]
    assert len(summary) == 1 and summary[0].severity is Severity.INFO
    p = summary[0].payload
    assert (p["count"], p["bytes"]) == (12, sum(s_new) + s_old[0] + s_old[1])
    assert p["by_verdict"] == {"PASS": 10, "FAIL": 1, "NOT_INSPECTED": 1}
    assert (p["oldest_time"], p["newest_time"]) == (iso_utc(T0 + 1), iso_utc(T0 + 20))
    assert disk(tmp_path) >= resume * MB
    stored = conn.execute("SELECT payload FROM events WHERE message LIKE 'retention%'").fetchall()
    assert len(stored) == 1 and '"count": 12' in stored[0][0]


def test_retention_by_folder_cap(tmp_path: Path) -> None:
    imgs = frames(20, 3)
    sizes = [jpg_size(f, 90) for f in imgs]
    cap = sum(sizes) * 0.8 / MB
    store, disk, events = start_store(
        tmp_path,
        RetentionConfig(min_free_mb=0, resume_free_mb=0, stop_saving_free_mb=0, max_images_mb=cap,
                        check_interval_s=0.05),
    )  # fmt: skip
    for i, f in enumerate(imgs, start=1):
        store.submit(make_inspection(i, Verdict.PASS, f))
    assert wait_until(lambda: any("retention" in e.message for e in events))
    store.close()
    assert disk.used() <= cap * MB * 0.9
    conn = open_readonly(tmp_path / "results.db")
    deleted = [r[0] for r in conn.execute("SELECT id FROM inspections WHERE image_deleted = 1 ORDER BY id")]
    assert deleted == list(range(1, len(deleted) + 1)) and deleted  # oldest first


def test_low_disk_stops_saving_with_alarm_rows_continue_and_recovery_resumes(tmp_path: Path) -> None:
    store, disk, events = start_store(
        tmp_path,
        RetentionConfig(min_free_mb=5, resume_free_mb=6, stop_saving_free_mb=5, check_interval_s=0.05),
    )
    imgs = frames(6, 4)
    store.submit(make_inspection(1, Verdict.FAIL, imgs[0]))
    assert wait_until(lambda: store.counts()["total"] == 1)
    disk.other = disk.capacity - 2 * MB  # 2 MB free, below stop_saving_free_mb
    for i in range(2, 5):
        store.submit(make_inspection(i, Verdict.FAIL, imgs[i]))
    assert wait_until(lambda: store.counts()["total"] == 4)
    assert not store.saving_images
    alarms = [e for e in events if e.kind == "disk" and e.severity is Severity.ERROR]
    assert len(alarms) == 1 and "stopped" in alarms[0].message
    disk.other = 0
    assert wait_until(lambda: store.saving_images)
    assert any(e.kind == "disk" and e.severity is Severity.INFO and "resumed" in e.message for e in events)
    store.submit(make_inspection(5, Verdict.FAIL, imgs[5]))
    store.close()
    rows = (
        open_readonly(tmp_path / "results.db")
        .execute("SELECT id, image_path, timings FROM inspections ORDER BY id")
        .fetchall()
    )
    assert [r["id"] for r in rows] == [1, 2, 3, 4, 5]  # every result recorded
    assert [r["image_path"] is not None for r in rows[1:]] == [False, False, False, True]
    assert all("stopped" in r["timings"] for r in rows[1:4])
    assert (tmp_path / rows[4]["image_path"]).exists()
