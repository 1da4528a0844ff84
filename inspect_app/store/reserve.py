"""Space held back for the results database, so that a full disk still lets the station say so.

When the volume fills, the image archive stops saving first; if the disk still runs out (another program
filling it, a log gone wild), the database would fail its next commit and the alarm, the NOT_INSPECTED rows
of the parts triggered meanwhile and the shutdown flush would all be lost. A file of ``reserve_mb`` is
allocated at start beside the DB; the writer deletes it at the first commit that fails for want of space,
and the retried commit lands in the space it held. The station stays in Error (``DISK_FULL``) until the
reserve is back, which needs the reserve's size plus the hysteresis free again.

A second, smaller reserve belongs to the results journal: if the disk fills again after the DB's reserve was
used, the results still queued at shutdown are written into the space it held (``journal.py``).
"""

from __future__ import annotations

import contextlib
import os
import shutil
from pathlib import Path

RESERVE_NAME = ".results-db-reserve"
JOURNAL_RESERVE_NAME = ".results-journal-reserve"
MB = 1024 * 1024


class SpaceReserve:
    def __init__(self, folder: Path, size_mb: float, name: str = RESERVE_NAME) -> None:
        self.path = Path(folder) / name
        self.size = int(size_mb * MB)
        self.released = False  # released for lack of space and not yet re-made

    @property
    def enabled(self) -> bool:
        return self.size > 0

    @property
    def held(self) -> bool:
        return self.enabled and self.path.exists() and self.path.stat().st_size >= self.size

    def ensure(self, free_bytes: int, margin: int) -> bool:
        """Make (or complete) the reserve when ``free_bytes`` leaves ``margin`` after it; True when held."""
        if not self.enabled:
            return True
        if self.held:
            self.released = False
            return True
        have = self.path.stat().st_size if self.path.exists() else 0
        if free_bytes - (self.size - have) < margin:
            return False
        try:
            fd = os.open(self.path, os.O_WRONLY | os.O_CREAT, 0o600)
            try:
                os.posix_fallocate(fd, 0, self.size)  # real blocks: a sparse file would reserve nothing
                os.fsync(fd)
            finally:
                os.close(fd)
        except OSError:
            with contextlib.suppress(OSError):
                os.unlink(self.path)
            return False
        self.released = False
        return True

    def release(self) -> bool:
        """Give the space back to the volume; True when there was something to give."""
        if not self.enabled or not self.path.exists():
            return False
        with contextlib.suppress(OSError):
            os.unlink(self.path)
        self.released = True
        return True


def free_bytes(path: Path) -> int:
    p = Path(path)
    while not p.exists() and p != p.parent:
        p = p.parent
    return shutil.disk_usage(p).free
