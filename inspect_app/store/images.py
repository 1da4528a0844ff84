"""The reject-image archive: ``root/YYYY-MM-DD/<VERDICT>/<key>.<ext>``, written atomically.

Every image is written to a hidden temp file in its final folder, fsynced, renamed into place and the
folder fsynced, so after a power cut a file either has its full content or does not exist. The store
writes the image before it commits the row; a crash in between leaves an image without a row, which
``cleanup_orphans`` removes at the next start.

The archive is used by the store's writer thread only and is not thread-safe (``save_batch`` runs its
own helper threads internally).
"""

from __future__ import annotations

import contextlib
import errno
import hashlib
import os
import re
import shutil
from collections.abc import Callable, Collection, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import cv2
import numpy as np

from inspect_app.config import StoreConfig
from inspect_app.types import Verdict

FreeSpaceProbe = Callable[[Path], int]  # path -> free bytes on its filesystem

_DATE_RE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")
_IMAGE_EXTS = (".jpg", ".png")
_TMP_SUFFIX = ".tmp"
_WRITE_THREADS = 4  # I/O-bound (fsync): more threads than cores is fine


def disk_free(path: Path) -> int:
    """Default probe; walks up to an existing folder so it works before the archive folder exists."""
    p = Path(path)
    while not p.exists() and p != p.parent:
        p = p.parent
    return shutil.disk_usage(p).free


def write_durably(path: Path, data: bytes, flags: int) -> None:
    """Write all of ``data`` (open with ``flags`` besides O_WRONLY) and fsync before returning."""
    fd = os.open(path, os.O_WRONLY | flags, 0o644)
    try:
        view = memoryview(data)
        while view:
            view = view[os.write(fd, view) :]
        os.fsync(fd)
    finally:
        os.close(fd)


class ImageEncodeError(ValueError):
    """OpenCV could not encode the frame (wrong shape or dtype); the row is still recorded."""


@dataclass(frozen=True, slots=True)
class ImageJob:
    image: np.ndarray
    verdict: Verdict
    key: str  # file name stem; unsafe characters become '_'
    captured_at: float  # picks the date folder (UTC)


@dataclass(frozen=True, slots=True)
class SavedImage:
    path: str  # relative to ImageArchive.base, '/'-separated
    sha256: str
    nbytes: int


@dataclass(frozen=True, slots=True)
class OrphanReport:
    images: int
    temp_files: int
    bytes: int
    paths: tuple[str, ...]  # the images removed (relative), for the event payload


class FileOps:
    """The few filesystem calls the archive makes, so tests can make them fail like a full disk does."""

    def write_file(self, path: Path, data: bytes) -> None:
        write_durably(path, data, os.O_CREAT | os.O_EXCL)

    def replace(self, src: Path, dst: Path) -> None:
        os.replace(src, dst)

    def fsync_dir(self, path: Path) -> None:
        fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)

    def unlink(self, path: Path) -> None:
        os.unlink(path)


def date_folder(epoch: float) -> str:
    return datetime.fromtimestamp(epoch, UTC).strftime("%Y-%m-%d")


def folder_epoch_range(folder: str) -> tuple[float, float]:
    """[start, end) epoch of a date folder's UTC day."""
    start = datetime.strptime(folder, "%Y-%m-%d").replace(tzinfo=UTC).timestamp()
    return start, start + 86400.0


class ImageArchive:
    """Saves FAIL and NOT_INSPECTED frames always and PASS frames 1 in ``save_pass_every``.

    ``base`` is the folder stored paths are relative to: the state dir (where results.db lives); by
    default ``root``'s parent, which is the state dir for the usual ``<state_dir>/images``.
    """

    def __init__(
        self,
        root: str | Path,
        config: StoreConfig,
        free_space_probe: FreeSpaceProbe | None = None,
        *,
        base: str | Path | None = None,
        fs: FileOps | None = None,
    ) -> None:
        self.root = Path(root).absolute()
        self.base = Path(base).absolute() if base is not None else self.root.parent
        self.config = config
        self.free_space_probe = free_space_probe or disk_free
        self.fs = fs or FileOps()
        self.usage_bytes = 0  # bytes of images under root; exact after scan()/cleanup_orphans()
        self._pass_seen = 0
        self._known_dirs: set[Path] = set()
        self._pool: ThreadPoolExecutor | None = None  # started on the first batch with several images
        if config.image_format == "jpg":
            self._ext, self._params = ".jpg", [cv2.IMWRITE_JPEG_QUALITY, config.jpeg_quality]
        else:
            self._ext, self._params = ".png", [cv2.IMWRITE_PNG_COMPRESSION, 3]

    # ------------------------------------------------------------ saving
    def wants(self, verdict: Verdict) -> bool:
        """Whether this inspection's frame is kept; call once per inspection, in order (PASS sampling)."""
        if verdict is not Verdict.PASS:
            return True
        n = self.config.save_pass_every
        if n <= 0:
            return False
        self._pass_seen += 1
        return (self._pass_seen - 1) % n == 0  # the first PASS, then every n-th

    def encode(self, image: np.ndarray) -> bytes:
        try:
            ok, buf = cv2.imencode(self._ext, image, self._params)
        except cv2.error as exc:
            raise ImageEncodeError(f"cannot encode {getattr(image, 'shape', '?')} image: {exc}") from None
        if not ok:
            raise ImageEncodeError(f"cannot encode {image.shape} {image.dtype} image")
        return buf.tobytes()

    def save(self, image: np.ndarray, *, verdict: Verdict, key: str, captured_at: float) -> SavedImage:
        """Encode and write atomically. Raises ImageEncodeError, or OSError (ENOSPC included) with no
        partial file left behind."""
        result = self.save_batch([ImageJob(image, verdict, key, captured_at)])[0]
        if isinstance(result, Exception):
            raise result
        return result

    def save_batch(self, jobs: Sequence[ImageJob]) -> list[SavedImage | OSError | ImageEncodeError]:
        """Save several frames; one result per job, in order: the saved image or why it was not saved.

        Encoding and the per-file fsync run on a few threads (OpenCV and fsync release the GIL; on a
        typical SSD an fsync costs ms, so doing them one after another caps a burst of FAILs at ~100/s),
        and each folder is fsynced once per batch. Every image is durable when this returns.
        """
        results: list[SavedImage | OSError | ImageEncodeError | None] = [None] * len(jobs)
        todo: list[tuple[int, ImageJob, Path]] = []
        for i, job in enumerate(jobs):
            folder = self.root / date_folder(job.captured_at) / job.verdict.value
            try:
                self._ensure_dir(folder)
            except OSError as exc:
                results[i] = exc
                continue
            todo.append((i, job, folder))
        if len(todo) > 1:
            if self._pool is None:
                self._pool = ThreadPoolExecutor(max_workers=_WRITE_THREADS, thread_name_prefix="image-write")
            written = list(self._pool.map(lambda t: self._write_one(t[1], t[2]), todo))
        else:
            written = [self._write_one(job, folder) for _i, job, folder in todo]
        for folder in {f for (_i, _j, f), w in zip(todo, written, strict=True) if isinstance(w, SavedImage)}:
            try:
                self.fs.fsync_dir(folder)
            except OSError as exc:  # the renames may not survive a power cut: do not claim them
                for k, ((_i, _j, f), w) in enumerate(zip(todo, written, strict=True)):
                    if f == folder and isinstance(w, SavedImage):
                        self._unlink_quiet(self.abspath(w.path))
                        written[k] = exc
        for (i, _job, _folder), w in zip(todo, written, strict=True):
            results[i] = w
            if isinstance(w, SavedImage):
                self.usage_bytes += w.nbytes
        return [r for r in results if r is not None]

    def planned_path(self, job: ImageJob) -> str:
        """Where ``save_batch`` puts this job's image (relative to ``base``), known before it is written."""
        final = self.root / date_folder(job.captured_at) / job.verdict.value / self._file_name(job)
        return os.path.relpath(final, self.base).replace(os.sep, "/")

    def _file_name(self, job: ImageJob) -> str:
        return _UNSAFE.sub("_", job.key)[:120] + self._ext

    def _write_one(self, job: ImageJob, folder: Path) -> SavedImage | OSError | ImageEncodeError:
        """Runs on a pool thread: touches no shared state."""
        try:
            data = self.encode(job.image)
        except ImageEncodeError as exc:
            return exc
        name = self._file_name(job)
        final = folder / name
        tmp = folder / f".{name}.{os.getpid()}{_TMP_SUFFIX}"
        try:
            self.fs.write_file(tmp, data)
            self.fs.replace(tmp, final)
        except OSError as exc:
            self._unlink_quiet(tmp)
            return exc
        rel = os.path.relpath(final, self.base).replace(os.sep, "/")
        return SavedImage(rel, hashlib.sha256(data).hexdigest(), len(data))

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=True)
            self._pool = None

    def _ensure_dir(self, folder: Path) -> None:
        if folder in self._known_dirs:
            return
        # mkdir each level ourselves so every new directory entry is fsynced in its parent
        for d in reversed([folder, *folder.parents]):
            if d in self._known_dirs or d == d.parent:
                continue
            try:
                os.mkdir(d)
            except FileExistsError:
                pass
            else:
                self.fs.fsync_dir(d.parent)
            if d == self.root or self.root in d.parents:
                self._known_dirs.add(d)

    # ------------------------------------------------------------ space
    def free_bytes(self) -> int:
        return int(self.free_space_probe(self.root))

    def abspath(self, rel: str) -> Path:
        return self.base / rel

    def delete(self, rel: str) -> int:
        """Remove one archived image; returns the bytes freed (0 if it was already gone)."""
        path = self.abspath(rel)
        try:
            size = path.stat().st_size
            self.fs.unlink(path)
        except FileNotFoundError:
            return 0
        self.usage_bytes = max(0, self.usage_bytes - size)
        self._remove_empty_dirs(path.parent)
        return size

    def _remove_empty_dirs(self, folder: Path) -> None:
        # a date folder emptied by retention would otherwise linger for ever
        while folder != self.root and self.root in folder.parents:
            try:
                os.rmdir(folder)
            except OSError:
                return
            self._known_dirs.discard(folder)
            folder = folder.parent

    # ------------------------------------------------------------ start-up
    def date_folders(self) -> list[str]:
        if not self.root.is_dir():
            return []
        return sorted(e.name for e in os.scandir(self.root) if e.is_dir() and _DATE_RE.match(e.name))

    def cleanup_orphans(self, referenced: Callable[[str], Collection[str]]) -> OrphanReport:
        """Delete images no row refers to, and stray temp files; recompute ``usage_bytes``.

        ``referenced(date_folder)`` returns the relative paths rows refer to (with the image not marked
        deleted) for that folder. Run before anything is saved: an image being written now would be
        taken for an orphan.
        """
        removed: list[str] = []
        temps = freed = usage = 0
        for folder in self.date_folders():
            keep = set(referenced(folder))
            for dirpath, _dirs, files in os.walk(self.root / folder):
                for fname in files:
                    path = Path(dirpath) / fname
                    rel = os.path.relpath(path, self.base).replace(os.sep, "/")
                    try:
                        size = path.stat().st_size
                    except FileNotFoundError:
                        continue
                    is_tmp = fname.startswith(".") and fname.endswith(_TMP_SUFFIX)
                    if not is_tmp and (not fname.endswith(_IMAGE_EXTS) or rel in keep):
                        usage += size
                        continue
                    self._unlink_quiet(path)
                    freed += size
                    if is_tmp:
                        temps += 1
                    else:
                        removed.append(rel)
            for dirpath, _dirs, _files in os.walk(self.root / folder, topdown=False):
                self._remove_empty_dirs(Path(dirpath))
        self.usage_bytes = usage
        return OrphanReport(len(removed), temps, freed, tuple(removed))

    def _unlink_quiet(self, path: Path) -> None:
        with contextlib.suppress(FileNotFoundError):
            self.fs.unlink(path)


def is_enospc(exc: BaseException) -> bool:
    return isinstance(exc, OSError) and exc.errno in (errno.ENOSPC, errno.EDQUOT)
