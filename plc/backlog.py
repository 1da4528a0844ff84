"""Results the client link must take from ``results.db`` itself: those committed before it was listening.

The link starts after the station (a run session starts the station, then its links), so with free-running
triggers the first results of a run are committed before the link's result listener exists. At start the
link therefore registers its listener first, then reads results.db (read-only) for every committed
inspection after the outbox's high-water mark, and only then starts delivering: each committed result
reaches the outbox exactly once (the outbox ignores a sequence it has), and delivery, which goes by
sequence, cannot overtake one.

Where the outbox has no high-water mark yet (the first start of client mode on this state dir, or its
outbox was deleted), "after the mark" means the results of the running station process: those committed
since the process started. A new install does not send the PLC the history of earlier runs.
"""

from __future__ import annotations

import logging
import os
import sqlite3
import time
from dataclasses import dataclass
from pathlib import Path

from inspect_app.store import StoreError
from inspect_app.store.read import ResultsReader
from inspect_app.types import Verdict
from plc.handshake import RESULT_CODES

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class CommittedRow:
    seq: int
    part_id: str
    verdict: str
    result_code: int
    defect_count: int  # defects the recipe counted (the reasons that name a class), as plc.defects


def process_start_epoch() -> float:
    """When this process started (wall clock), from /proc on Linux; elsewhere: now (nothing older)."""
    try:
        stat = Path("/proc/self/stat").read_text()
        ticks = int(stat.rsplit(")", 1)[1].split()[19])  # field 22, starttime, counted after "(comm)"
        boot = next(
            int(line.split()[1])
            for line in Path("/proc/stat").read_text().splitlines()
            if line.startswith("btime")
        )
        return boot + ticks / os.sysconf("SC_CLK_TCK")
    except (OSError, ValueError, IndexError, StopIteration):
        return time.time()


def committed_after(db: Path, after_seq: int | None, since_epoch: float) -> list[CommittedRow]:
    """Committed inspections with id > ``after_seq`` (None: with epoch >= ``since_epoch``), oldest first."""
    try:
        with ResultsReader(db) as reader:
            found = reader.after(after_seq, since_epoch)
    except StoreError:
        return []  # no results.db yet: nothing was committed
    except sqlite3.Error as exc:
        log.warning("results.db could not be read for the link's backlog: %s", exc)
        return []
    return [
        CommittedRow(r.id, r.part_id, r.verdict, int(RESULT_CODES[Verdict(r.verdict)]),
                     sum(1 for x in r.reasons if x.get("class_name")))
        for r in found
    ]  # fmt: skip


def newest_id(db: Path) -> int:
    try:
        with ResultsReader(db) as reader:
            return reader.newest_id()
    except (StoreError, sqlite3.Error):
        return 0
