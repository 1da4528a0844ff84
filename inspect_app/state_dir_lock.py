"""One owner per state directory: an OS lock held while a station (or a run session) uses it.

Two stations on one state dir would share the results DB, the image archive and the control socket: the
second took over the socket (status, trigger and recipe commands reached the wrong station) and deleted it on
exit. ``flock`` on ``<state_dir>/station.lock`` is held for as long as the owner runs and is released by the
kernel when the process dies (kill -9 included), so a crashed station never blocks the next start. The file
holds the owner's PID, which the refusal names.

Within one process the lock is counted by role: the run session ("session") holds it for the life of the
process, and each Station it starts and stops ("station") takes it again; a second holder of the same role
in the same process (two Stations on one dir) is refused like another process.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import threading
from pathlib import Path

LOCK_NAME = "station.lock"

_registry: dict[Path, tuple[int, set[str]]] = {}  # resolved dir -> (fd, roles holding it) in this process
_registry_lock = threading.Lock()


class StateDirBusy(RuntimeError):
    """Another station holds the state directory; the message names its PID."""


class StateDirLock:
    def __init__(self, path: Path, role: str) -> None:
        self.path = path
        self.role = role
        self._released = False

    @classmethod
    def acquire(cls, state_dir: Path, role: str = "station") -> StateDirLock:
        """Take the lock on ``state_dir`` (created if missing) for ``role``. Raises StateDirBusy naming the
        holder when another process holds it, or this process already holds it in the same role."""
        path = Path(state_dir).resolve()
        with _registry_lock:
            held = _registry.get(path)
            if held is not None:
                if role in held[1]:
                    raise StateDirBusy(
                        f"state dir {path} is in use by another {role} of this process (PID {os.getpid()})"
                    )
                held[1].add(role)
                return cls(path, role)
            try:
                path.mkdir(parents=True, exist_ok=True)
                fd = os.open(path / LOCK_NAME, os.O_RDWR | os.O_CREAT, 0o644)
            except OSError as exc:
                raise StateDirBusy(f"state dir {path}: cannot create its lock file: {exc.strerror}") from None
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except OSError:
                owner = _read_owner(fd)
                os.close(fd)
                who = f"PID {owner}" if owner else "another process"
                raise StateDirBusy(
                    f"state dir {path} is in use by {who} (another station runs on it); stop that station "
                    "or give this one its own state_dir"
                ) from None
            os.ftruncate(fd, 0)
            os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
            _registry[path] = (fd, {role})
            return cls(path, role)

    def release(self) -> None:
        if self._released:
            return
        self._released = True
        with _registry_lock:
            fd, roles = _registry[self.path]
            roles.discard(self.role)
            if roles:
                return
            del _registry[self.path]
            with contextlib.suppress(OSError):
                os.ftruncate(fd, 0)
            os.close(fd)  # closing the only descriptor releases the flock


def holder_pid(state_dir: Path) -> int | None:
    """The PID written by the current holder, or None (no lock file, or nobody holds it)."""
    path = Path(state_dir) / LOCK_NAME
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return None
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
        except OSError:
            return _read_owner(fd)
        fcntl.flock(fd, fcntl.LOCK_UN)
        return None
    finally:
        os.close(fd)


def _read_owner(fd: int) -> int | None:
    try:
        text = os.pread(fd, 32, 0).decode().strip()
        return int(text) if text else None
    except (OSError, ValueError):
        return None
