"""The station's own sha256 of each compiled model OpenVINO keeps in ``<state_dir>/cache/openvino``.

OpenVINO does not check the contents of its cached blobs: one word of weights changed in a blob (bit rot, a
bad copy, a hand) loads and runs, and judged parts differently in a test, without a word. The release's
files are checked against their manifest; this extends the check to what is actually run. Before each
compile every blob must match the hash written when OpenVINO made it, and any other is deleted, so
OpenVINO compiles again from the verified model; after the compile, the blobs it wrote are hashed.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
from pathlib import Path

log = logging.getLogger(__name__)

LEDGER = "blobs.json"
PATTERN = "*.blob"


def drop_unverified(cache_dir: Path) -> dict[str, str]:
    """Delete every blob whose sha256 is not the one recorded for it (or that has none); the ledger of the
    blobs that remain."""
    recorded = _read(cache_dir)
    kept: dict[str, str] = {}
    for blob in sorted(cache_dir.glob(PATTERN)):
        digest = _sha256(blob)
        if recorded.get(blob.name) == digest:
            kept[blob.name] = digest
            continue
        why = "does not match its recorded sha256" if blob.name in recorded else "has no recorded sha256"
        log.warning("OpenVINO cache: %s %s: deleted, compiled again from the release", blob.name, why)
        blob.unlink()
    if kept != recorded:
        _write(cache_dir, kept)
    return kept


def record_new(cache_dir: Path, known: dict[str, str]) -> None:
    """Hash the blobs a compile has just written (those not in ``known``) into the ledger."""
    new = {b.name: _sha256(b) for b in sorted(cache_dir.glob(PATTERN)) if b.name not in known}
    if new:
        _write(cache_dir, {**known, **new})


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def _read(cache_dir: Path) -> dict[str, str]:
    try:
        data = json.loads((cache_dir / LEDGER).read_text())
    except (OSError, ValueError):
        return {}  # none yet, or unreadable: every blob is then unverified
    return {str(k): str(v) for k, v in data.items()} if isinstance(data, dict) else {}


def _write(cache_dir: Path, ledger: dict[str, str]) -> None:
    tmp = cache_dir / f".{LEDGER}.{os.getpid()}.tmp"
    tmp.write_text(json.dumps(ledger, indent=1, sort_keys=True))
    os.replace(tmp, cache_dir / LEDGER)
