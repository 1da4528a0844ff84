"""GenICam source against Aravis's fake cameras: the issue-14 targets (docs/cameras.md).

1. ``accounting``: the in-process fake camera at its highest frame rate (1000 fps), free run, read as fast as
   a part loop can, then software-triggered: every frame id accounted for (delivered + dropped + incomplete +
   missing + held = ids), none unaccounted.
2. ``latency``: TriggerSoftware -> frame arrival, in-process fake and the GigE Vision fake on 127.0.0.1.
3. ``reconnect``: ``arv-fake-gv-camera-0.8`` killed (a pulled cable) and started again ``--cycles`` times:
   the time from the camera answering again to the source streaming again (target: within 2 s), and the
   process's RSS after each cycle (target: flat over 100).

    .venv/bin/python bench/bench_genicam.py --cycles 100 --json bench/results/genicam.json
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "bench"))

from cpuinfo import cpu_line  # noqa: E402

from inspect_app.protocols import CorruptFrame, SourceError  # noqa: E402
from inspect_app.sources.genicam import GenicamSource  # noqa: E402
from inspect_app.testing.genicam_fakes import FakeGvCamera, fake_config, request, skip_reason  # noqa: E402

_GV = {"camera": "127.0.0.1", "interfaces": ["GigEVision"], "roi": (0, 0, 64, 64)}


def rss_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q / 100 * (len(ordered) - 1)))]


def _counts(src: GenicamSource) -> dict[str, Any]:
    c = src.counts()
    return {"ids": c.ids, "received": c.received, "delivered": c.delivered, "dropped": c.dropped,
            "incomplete": c.incomplete, "missing": c.missing, "held": c.held, "unaccounted": c.unaccounted}


def accounting(seconds: float) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for trigger in ("free_run", "software"):
        src = GenicamSource(fake_config(frame_rate=1000.0, trigger=trigger, buffers=8))
        src.open()
        parts = errors = 0
        end = time.monotonic() + seconds
        while time.monotonic() < end:
            try:
                src.read_for(request(parts), 1.0)
            except (SourceError, CorruptFrame):
                errors += 1
            parts += 1
        fps = src.status().fps
        src.close()
        out[trigger] = {"parts": parts, "read_errors": errors, "camera_fps_measured": fps, **_counts(src)}
    return out


def latency(n: int, gv: bool) -> dict[str, Any]:
    cam = FakeGvCamera("GV01").start() if gv else None
    try:
        # the fake camera looks at its trigger once per frame period: at its highest rate, that is ~1 ms
        src = GenicamSource(fake_config(**(_GV if gv else {}), trigger="software", frame_rate=1000.0))
        src.open()
        lat = []
        for i in range(n):
            src.read_for(request(i), 2.0)
            lat.append(src.status().trigger_latency_ms)
        src.close()
    finally:
        if cam is not None:
            cam.stop()
    return {"n": n, "median_ms": statistics.median(lat), "p95_ms": pct(lat, 95), "max_ms": max(lat),
            "unaccounted": src.counts().unaccounted}  # fmt: skip


def reconnect(cycles: int) -> dict[str, Any]:
    cam = FakeGvCamera("GV01").start()
    src = GenicamSource(fake_config(**_GV, frame_rate=50.0, reconnect_min_s=0.25, reconnect_max_s=1.0))
    src.open()
    back_s: list[float] = []
    rss: list[float] = []
    try:
        for cycle in range(cycles):
            cam.stop()
            deadline = time.monotonic() + 30
            while src.status().ok and time.monotonic() < deadline:
                time.sleep(0.01)
            time.sleep(0.5)  # the camera stays away a while, as an unplugged one does
            cam.start()
            returned = time.monotonic()  # its control port is bound: it answers from now on
            while not src.status().ok and time.monotonic() < returned + 30:
                time.sleep(0.005)
            back_s.append(time.monotonic() - returned)
            src.read_for(request(cycle), 2.0)
            rss.append(rss_mb())
            print(f"cycle {cycle + 1}/{cycles}: back {back_s[-1]:.3f} s, RSS {rss[-1]:.1f} MB", flush=True)
    finally:
        src.close()
        cam.stop()
    half = len(rss) // 2
    return {
        "cycles": cycles, "reconnects": src.reconnects,
        "back_s": {"median": statistics.median(back_s), "p95": pct(back_s, 95), "max": max(back_s)},
        "within_2s": sum(b <= 2.0 for b in back_s),
        "rss_mb": {"first": rss[0], "last": rss[-1], "max": max(rss),
                   "mean_first_half": statistics.mean(rss[:half] or rss),
                   "mean_second_half": statistics.mean(rss[half:])},
        **_counts(src),
    }  # fmt: skip


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--seconds", type=float, default=10.0, help="accounting run per trigger mode")
    ap.add_argument("--triggers", type=int, default=200, help="software triggers per latency run")
    ap.add_argument("--cycles", type=int, default=100, help="disconnect/reconnect cycles")
    ap.add_argument("--only", choices=["accounting", "latency", "reconnect"], action="append", default=None)
    ap.add_argument("--json", type=Path, default=None)
    args = ap.parse_args()
    why = skip_reason() or FakeGvCamera.missing()
    if why:
        print(why, file=sys.stderr)
        return 2
    print(cpu_line(), flush=True)
    result: dict[str, Any] = {"cpu": cpu_line()}
    parts = args.only or ["accounting", "latency", "reconnect"]
    if "accounting" in parts:
        result["accounting"] = accounting(args.seconds)
        print(json.dumps(result["accounting"], indent=1), flush=True)
    if "latency" in parts:
        result["latency_fake"] = latency(args.triggers, gv=False)
        result["latency_gv"] = latency(args.triggers, gv=True)
        print(json.dumps({k: result[k] for k in ("latency_fake", "latency_gv")}, indent=1), flush=True)
    if "reconnect" in parts:
        result["reconnect"] = reconnect(args.cycles)
        print(json.dumps(result["reconnect"], indent=1), flush=True)
    if args.json:
        args.json.write_text(json.dumps(result, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
