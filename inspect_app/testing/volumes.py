"""Small real file systems for full-disk tests and the soak: a tmpfs of a few MB, filled to the last byte.

Mounting needs root (as in CI); ``mount_tmpfs`` says whether it worked, so callers can skip with a message.
"""

from __future__ import annotations

import errno
import os
import subprocess
import uuid
from pathlib import Path


def mount_tmpfs(path: Path, size_mb: int) -> str | None:
    """Mount a tmpfs of ``size_mb`` at ``path``; None when mounted, else why not."""
    path.mkdir(parents=True, exist_ok=True)
    res = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size_mb}m", "tmpfs", str(path)],
                         capture_output=True, text=True, check=False)  # fmt: skip
    return None if res.returncode == 0 else (res.stderr.strip() or f"mount exited {res.returncode}")


def unmount(path: Path) -> None:
    subprocess.run(["umount", "-l", str(path)], check=False)


def fill(folder: Path) -> Path:
    """Write a file into ``folder`` until its volume has no byte left; delete it to give the space back."""
    path = folder / f"filler-{uuid.uuid4().hex[:6]}"
    fd = os.open(path, os.O_WRONLY | os.O_CREAT, 0o644)
    try:
        for size in (1 << 20, 1 << 16, 1 << 12, 1 << 9, 1):
            while True:
                try:
                    os.write(fd, b"\0" * size)
                except OSError as exc:
                    if exc.errno != errno.ENOSPC:
                        raise
                    break
    finally:
        os.close(fd)
    return path
