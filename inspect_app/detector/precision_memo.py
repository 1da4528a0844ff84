"""What ``precision = "auto"`` chose, remembered in the state dir, so that later starts skip the timing.

Timing every candidate costs a start about two seconds on 2 cores (each precision compiled and warmed,
then half a second of interleaved rounds): the demo's first verdict came 4.6 s after the process started
instead of 2.3 s. The answer only changes when what it was measured on changes, so it is kept under a key
made of all of that: the release and the sha256 of every candidate's model file, the candidates and why
others were skipped, the CPU (model name and OpenVINO's optimization capabilities), the OpenVINO version,
threads and streams. Any change and the station times again; delete the file to force it. A file that
cannot be read is ignored (and replaced at the next timing), never a reason not to start.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import time
from pathlib import Path
from typing import Any

from inspect_app.detector.precision import PrecisionChoice
from inspect_app.model_release import Release

log = logging.getLogger(__name__)

FILE = "precision_choices.json"
KEEP = 32  # entries: a station sees a handful of releases; older ones go first


def memo_key(release: Release, names: list[str], skipped: list[tuple[str, str]], file: str | None,
             threads: int, streams: int) -> str:  # fmt: skip
    import openvino as ov

    core = ov.Core()
    files = {p: (f, release.sha256(f)) for p in names if p != "bf16"
             for f in [file if file and p == "f32" else release.precision(p).file]}  # fmt: skip
    what = {
        "model": release.model_id,
        "files": files,
        "candidates": names,
        "skipped": skipped,
        "cpu": _cpu_name(),
        "capabilities": list(core.get_property("CPU", "OPTIMIZATION_CAPABILITIES")),
        "openvino": ov.get_version(),
        "threads": threads,
        "streams": streams,
    }
    return hashlib.sha256(json.dumps(what, sort_keys=True).encode()).hexdigest()


def recall(cache_dir: Path, key: str) -> PrecisionChoice | None:
    entry = _read(cache_dir / FILE).get(key)
    if not isinstance(entry, dict):
        return None
    try:
        return PrecisionChoice(
            chosen=str(entry["chosen"]),
            median_ms=tuple((str(p), float(ms)) for p, ms in entry["median_ms"]),
            rounds=int(entry["rounds"]),
            skipped=tuple((str(p), str(why)) for p, why in entry["skipped"]),
            measured_at=str(entry["measured_at"]),
        )
    except (KeyError, TypeError, ValueError):
        return None


def remember(cache_dir: Path, key: str, choice: PrecisionChoice) -> None:
    """Write atomically; a failure to write is logged, not raised (the choice is made either way)."""
    path = cache_dir / FILE
    entries = _read(path)
    entries.pop(key, None)
    entries[key] = {
        "chosen": choice.chosen,
        "median_ms": [list(m) for m in choice.median_ms],
        "rounds": choice.rounds,
        "skipped": [list(s) for s in choice.skipped],
        "measured_at": choice.measured_at or time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    }
    entries = dict(list(entries.items())[-KEEP:])
    try:
        cache_dir.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(".tmp")
        tmp.write_text(json.dumps(entries, indent=1) + "\n")
        os.replace(tmp, path)
    except OSError as exc:
        log.warning("precision auto: cannot remember the choice in %s: %s", path, exc)


def _read(path: Path) -> dict[str, Any]:
    try:
        data = json.loads(path.read_text())
    except FileNotFoundError:
        return {}
    except (OSError, ValueError) as exc:
        log.warning("precision auto: ignoring %s (%s); the precisions will be timed again", path, exc)
        return {}
    return data if isinstance(data, dict) else {}


def _cpu_name() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    import platform

    return platform.processor() or platform.machine()
