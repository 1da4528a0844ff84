"""Case 7 on a real, small file system (a tmpfs of a few MB): a full disk under the database is an Error the
PLC and the operator see, every part triggered meanwhile gets its row, and what cannot be committed at stop
goes to the journal that the next start imports. Nothing is lost and stop does not hang.

Needs permission to mount a tmpfs (root, as in CI); skipped with a message otherwise.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from inspect_app.state import StationState
from inspect_app.station import Station
from inspect_app.testing.fakes import ScriptedDetector, ScriptedSource, part_image, wait_until
from inspect_app.testing.records import event_messages, rows
from inspect_app.testing.volumes import fill, mount_tmpfs, unmount


@pytest.fixture
def volume(tmp_path: Path) -> Iterator[Path]:
    mnt = tmp_path / "vol"
    why = mount_tmpfs(mnt, 12)
    if why is not None:
        pytest.skip(f"cannot mount a tmpfs for the full-disk test (needs root): {why}")
    try:
        yield mnt
    finally:
        unmount(mnt)


def _config(make_config: Any, tmp_path: Path, volume: Path) -> Any:
    return make_config(
        tmp_path,
        state_dir=str(volume / "state"),
        trigger={"mode": "software", "queue_size": 256},
        store={"save_pass_every": 1, "commit_interval_ms": 5, "reserve_mb": 4, "flush_timeout_s": 1.5,
               "retention": {"min_free_mb": 0.5, "resume_free_mb": 1, "stop_saving_free_mb": 0,
                             "hysteresis_mb": 1, "check_interval_s": 0.2}},
    )  # fmt: skip


def _trigger_until(st: Station, prefix: str, done: Any, limit: int = 20_000) -> int:
    n = 0
    while not done() and n < limit:
        st.trigger(f"{prefix}-{n}")
        n += 1
        if n % 50 == 0:
            st.wait_for_results(st.counters["total"] + 1, 1)  # let the writer keep up a little
    return n


@pytest.mark.timeout(240)
def test_full_disk_is_an_error_and_every_part_still_gets_its_row(
    tmp_path: Path, volume: Path, make_config: Any
) -> None:
    cfg = _config(make_config, tmp_path, volume)
    big = [part_image(i % 2 == 0, (256, 256)) for i in range(4)]  # images that take real space
    st = Station(cfg, source=ScriptedSource(big, loop=True), detectors={"fake": ScriptedDetector()})
    st.start()
    assert (volume / "state" / ".results-db-reserve").exists()
    st.trigger("before")
    assert st.wait_for_results(1, 10)
    filler = fill(volume)

    # the disk is full: images stop first, then a commit fails and the DB's reserve takes the rows
    n = _trigger_until(st, "full", lambda: st.state == StationState.ERROR)
    assert st.state == StationState.ERROR, "the station never noticed the full disk"
    assert wait_until(lambda: st.error_code == "DISK_FULL", 10), st.error_code
    assert st.health().disk.state == "full" and not st.health().db.ok
    st.trigger("during-error")
    assert st.wait_for_results(n + 2, 30)
    assert not st.health().ok

    # space comes back: the reserve is made again and the operator can reset
    filler.unlink()
    assert wait_until(lambda: st.supervisor.problem() is None, 15), st.supervisor.problem()
    assert st.reset("operator") is True
    st.trigger("after")
    assert st.wait_for_results(n + 3, 10)
    st.stop()

    got = {r["part_id"]: r for r in rows(cfg)}
    assert len(got) == n + 3  # every triggered part has a row
    assert got["during-error"]["verdict"] == "NOT_INSPECTED"
    assert got["during-error"]["error_code"] == "DISK_FULL"
    assert got["after"]["verdict"] != "NOT_INSPECTED"
    messages = event_messages(cfg)
    assert any("reserve of" in m and "released" in m for m in messages)
    assert any("image saving stopped" in m for m in messages)


@pytest.mark.timeout(240)
def test_stop_on_a_full_disk_journals_and_the_next_start_imports(
    tmp_path: Path, volume: Path, make_config: Any
) -> None:
    cfg = _config(make_config, tmp_path, volume)
    src = ScriptedSource([part_image(False, (256, 256))], loop=True)
    st = Station(cfg, source=src, detectors={"fake": ScriptedDetector()})
    st.start()
    fillers = [fill(volume)]
    n = _trigger_until(st, "a", lambda: st.store_problem() is not None)
    assert st.wait_for_results(n, 30)  # the DB's reserve took these
    fillers.append(fill(volume))  # and now that space is gone too: commits fail for good
    st.trigger("stuck-1")
    st.trigger("stuck-2")
    assert wait_until(lambda: not st._store.healthy, 10)  # the store's own view
    st.stop()  # bounded by flush_timeout_s; no exception: the results went to the journal
    assert st._store.journaled >= 2
    journal = volume / "state" / "results.journal.jsonl"
    assert journal.exists()

    for f in fillers:
        f.unlink()
    again = Station(cfg, source=src, detectors={"fake": ScriptedDetector()})
    again.start()
    again.stop()
    assert not journal.exists()
    got = {r["part_id"]: r for r in rows(cfg)}
    assert {"stuck-1", "stuck-2"} <= set(got)
    assert len([p for p in got if p.startswith("a-")]) == n
    assert "journaled" in got["stuck-1"]["timings"]
    assert any("imported" in m and "journal" in m for m in event_messages(cfg))
