"""Write rate of the results store (slow: `make test-slow`). Target: >= 2,000 inspections/s without images."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import pytest

from inspect_app.config import StoreConfig
from inspect_app.store import ImageArchive, SqliteResultStore
from inspect_app.types import Decision, Detection, Inspection, Verdict


@pytest.mark.slow
def test_write_rate_without_images(tmp_path: Path) -> None:
    n = 10_000
    cfg = StoreConfig()
    store = SqliteResultStore(tmp_path / "r.db", ImageArchive(tmp_path / "images", cfg), cfg, "st")
    done = threading.Event()
    seen = [0]

    def on_commit(_c) -> None:
        seen[0] += 1
        if seen[0] == n:
            done.set()

    store.add_commit_listener(on_commit)
    store.start()
    dets = (Detection(0, "a", 0.9, (1.0, 2.0, 3.0, 4.0)), Detection(1, "b", 0.8, (5.0, 6.0, 7.0, 8.0)))
    items = [
        Inspection(f"p{i}", i, "external", "st", "r", "m", None, Decision(Verdict.PASS), dets,
                   {"acquire": 1.0, "detect": 5.0, "decide": 0.1}, i, time.time(), "synthetic")
        for i in range(n)
    ]  # fmt: skip
    t0 = time.monotonic()
    for it in items:
        store.submit(it)
    assert done.wait(60)
    rate = n / (time.monotonic() - t0)
    store.close()
    assert rate >= 2000, f"{rate:.0f} inspections/s"
