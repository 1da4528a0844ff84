"""The synthetic camera: a FrameSource over the part generator."""

from __future__ import annotations

import itertools
import time

import numpy as np
import pytest

from inspect_app.config import SyntheticSourceConfig
from inspect_app.protocols import FrameSource, SourceError
from inspect_app.sources.synthetic import SyntheticSource
from inspect_app.synth.generator import PartGenerator


def _config(**kw: object) -> SyntheticSourceConfig:
    base: dict[str, object] = {"width": 128, "height": 96, "seed": 4, "defect_rate": 0.5}
    return SyntheticSourceConfig(**(base | kw))


def test_is_a_frame_source() -> None:
    assert isinstance(SyntheticSource(_config()), FrameSource)


def test_read_before_open_raises_not_open() -> None:
    src = SyntheticSource(_config())
    with pytest.raises(SourceError) as err:
        src.read(1.0)
    assert err.value.code == "NOT_OPEN"
    src.open()
    src.read(1.0)
    src.close()
    with pytest.raises(SourceError, match="not open"):
        src.read(1.0)


def test_frames_carry_ids_truth_origin_and_times() -> None:
    src = SyntheticSource(_config(), name="cam-a")
    src.open()
    t0, m0 = time.time(), time.monotonic()
    frames = [src.read(1.0) for _ in range(5)]
    src.close()
    gen = PartGenerator("pcb", 128, 96, seed=4, defect_rate=0.5)
    assert [f.frame_id for f in frames] == [1, 2, 3, 4, 5]
    for i, f in enumerate(frames):
        part = gen.generate(i)
        assert f.source == "cam-a" and f.origin == f"synthetic:4:{i}"
        assert f.image.shape == (96, 128, 3) and np.array_equal(f.image, part.image)
        assert f.truth == part.truth
        assert f.captured_at >= t0 and f.captured_mono >= m0
    assert all(a.captured_mono <= b.captured_mono for a, b in itertools.pairwise(frames))


def test_frame_ids_keep_rising_across_reopen() -> None:
    src = SyntheticSource(_config())
    src.open()
    first = [src.read(1.0).frame_id for _ in range(2)]
    src.close()
    src.open()
    frame = src.read(1.0)
    assert frame.frame_id > first[-1]
    assert frame.origin == "synthetic:4:2"  # and the part sequence goes on, not back to part 0


def test_rate_paces_frames() -> None:
    src = SyntheticSource(_config(rate_hz=40.0))
    src.open()
    start = time.monotonic()
    frames = [src.read(1.0) for _ in range(5)]
    elapsed = time.monotonic() - start
    # four periods at least between the first and the fifth frame; no upper bound on a busy machine
    assert elapsed >= 4 / 40 * 0.95
    assert frames[-1].captured_mono - frames[0].captured_mono >= 4 / 40 * 0.95


def test_unpaced_source_does_not_sleep() -> None:
    src = SyntheticSource(_config(rate_hz=0.0, width=64, height=64))
    src.open()
    start = time.monotonic()
    for _ in range(3):
        src.read(1.0)
    assert time.monotonic() - start < 5.0
