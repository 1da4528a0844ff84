"""Folder source: order, looping, pacing, and corrupt files that must not stop the station."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest

from inspect_app.config import FolderSourceConfig
from inspect_app.protocols import CorruptFrame, SourceError, SourceExhausted
from inspect_app.sources.folder import FolderSource


def _write_images(folder: Path, n: int) -> list[Path]:
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for i in range(n):
        img = np.full((48, 64, 3), 20 * i, np.uint8)
        p = folder / f"part_{i:03d}.png"
        cv2.imwrite(str(p), img)
        paths.append(p)
    return paths


def test_reads_sorted_once_then_exhausted(tmp_path: Path) -> None:
    paths = _write_images(tmp_path, 3)
    (tmp_path / "notes.txt").write_text("not an image")
    src = FolderSource(FolderSourceConfig(path=tmp_path))
    src.open()
    frames = [src.read(1.0) for _ in range(3)]
    assert [f.origin for f in frames] == [str(p) for p in paths]
    assert [f.frame_id for f in frames] == [1, 2, 3]
    assert int(frames[2].image[0, 0, 0]) == 40
    with pytest.raises(SourceExhausted):
        src.read(1.0)


def test_loop_restarts_and_ids_keep_growing(tmp_path: Path) -> None:
    _write_images(tmp_path, 2)
    src = FolderSource(FolderSourceConfig(path=tmp_path, loop=True))
    src.open()
    ids = [src.read(1.0).frame_id for _ in range(5)]
    assert ids == [1, 2, 3, 4, 5]


def test_corrupt_and_truncated_files_raise_corrupt_frame_and_source_goes_on(tmp_path: Path) -> None:
    _write_images(tmp_path, 1)  # part_000.png
    ok_jpg = cv2.imencode(".jpg", np.full((40, 40, 3), 99, np.uint8))[1].tobytes()
    (tmp_path / "part_001.jpg").write_bytes(ok_jpg[: len(ok_jpg) // 2])  # truncated
    (tmp_path / "part_002.png").write_bytes(b"\x89PNG garbage")
    (tmp_path / "part_003.jpg").write_bytes(b"")
    (tmp_path / "part_004.jpg").write_bytes(ok_jpg)
    src = FolderSource(FolderSourceConfig(path=tmp_path))
    src.open()
    assert src.read(1.0).frame_id == 1
    for expected in ("truncated JPEG", "not a decodable image", "empty file"):
        with pytest.raises(CorruptFrame, match=expected):
            src.read(1.0)
    last = src.read(1.0)
    assert last.origin.endswith("part_004.jpg") and last.image.shape == (40, 40, 3)


def test_missing_or_empty_folder(tmp_path: Path) -> None:
    with pytest.raises(SourceError) as err:
        FolderSource(FolderSourceConfig(path=tmp_path / "nope")).open()
    assert err.value.code == "NOT_FOUND"
    with pytest.raises(SourceError) as err:
        FolderSource(FolderSourceConfig(path=tmp_path)).open()
    assert err.value.code == "EMPTY"


def test_rate_paces_frames(tmp_path: Path) -> None:
    import time

    _write_images(tmp_path, 4)
    src = FolderSource(FolderSourceConfig(path=tmp_path, rate_hz=20.0))
    src.open()
    t0 = time.monotonic()
    for _ in range(4):
        src.read(1.0)
    # 4 frames at 20 Hz need at least 3 periods; only a lower bound, never a tight timing
    assert time.monotonic() - t0 >= 0.14
