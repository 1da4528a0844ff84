"""Operator window benchmark (issue 4): does the window slow the line, freeze, or grow?

    .venv/bin/python bench/bench_ui.py --seconds 10                 # quick check
    .venv/bin/python bench/bench_ui.py --seconds 120 --rounds 2     # the issue's 2-minute stall figure
    .venv/bin/python bench/bench_ui.py --seconds 600 --rounds 1     # the 10-minute memory figure

Runs the demo station (synthetic camera free-running as fast as the pipeline takes parts, the default model
release, or the ground-truth stand-in with --fake / when models/ has none) in this process, alternately
headless and with the operator window open (offscreen without a display), each for --seconds after a
warm-up, and reports:

* throughput: committed parts/s, window vs headless (the issue asks for >= 0.95x);
* UI stall: a 10 ms QTimer heartbeat on the Qt thread; lateness = how much later than due it fired. The
  longest lateness is the longest time the window could not react (the issue asks for < 50 ms);
* memory: RSS sampled every second; first, last, max and the least-squares slope in MB/min (flat ~ 0).

Ratios are within one run, on one machine; the machine's other load shows in both halves alike.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from inspect_app.offline import configure_offline  # noqa: E402

HEARTBEAT_MS = 10
_PAGE = os.sysconf("SC_PAGE_SIZE")
_TICK = os.sysconf("SC_CLK_TCK")


def rss_mb() -> float:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * _PAGE / 1e6


def thread_cpu() -> dict[str, float]:
    """CPU seconds so far per thread of this process, by Python thread name (else the kernel's name)."""
    names = {t.native_id: t.name for t in threading.enumerate()}
    names[os.getpid()] = "Qt/main"
    out: dict[str, float] = {}
    for tid in os.listdir("/proc/self/task"):
        try:
            with open(f"/proc/self/task/{tid}/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()
            with open(f"/proc/self/task/{tid}/comm") as f:
                comm = f.read().strip()
        except OSError:  # ended meanwhile
            continue
        name = names.get(int(tid), comm)
        out[name] = out.get(name, 0.0) + (int(fields[11]) + int(fields[12])) / _TICK
    return out


def cpu_share(before: dict[str, float], after: dict[str, float], seconds: float) -> dict[str, float]:
    """Cores used per thread name over a span (1.0 = one core busy all the time), busiest first."""
    used = {k: (v - before.get(k, 0.0)) / seconds for k, v in after.items()}
    return {k: round(v, 3) for k, v in sorted(used.items(), key=lambda kv: -kv[1]) if v >= 0.005}


def slope_mb_per_min(samples: list[tuple[float, float]]) -> float:
    if len(samples) < 3:
        return 0.0
    ts, ms = [t for t, _ in samples], [m for _, m in samples]
    tm, mm = statistics.fmean(ts), statistics.fmean(ms)
    var = sum((t - tm) ** 2 for t in ts)
    return 60.0 * sum((t - tm) * (m - mm) for t, m in samples) / var if var else 0.0


def make_config(state: Path, fake: bool, rate_hz: float, display_fps: float | None = None,
                nice: int | None = None) -> Any:
    from inspect_app.demo import demo_config

    cfg = demo_config(state_dir=state)
    trigger = cfg.trigger.model_copy(update={"rate_hz": rate_hz})
    # no OPC UA server: both halves must measure the same pipeline, and a port cannot be bound twice
    opcua = cfg.opcua.model_copy(update={"mode": "off"}) if hasattr(cfg, "opcua") else None
    update: dict[str, Any] = {"trigger": trigger}
    ui = {k: v for k, v in (("display_fps", display_fps), ("nice", nice)) if v is not None}
    if ui:
        update["ui"] = cfg.ui.model_copy(update=ui)
    if opcua is not None:
        update["opcua"] = opcua
    return cfg.model_copy(update=update)


def station_factory(cfg: Any, fake: bool) -> Any:
    from inspect_app.station import Station
    from ui.truth_model import stand_in_station

    return (lambda: stand_in_station(cfg)) if fake else (lambda: Station(cfg))


def run_headless(cfg: Any, fake: bool, seconds: float, warmup: float) -> dict[str, Any]:
    # started from the launcher's thread, as the window's controller does: after a window half lowered
    # this (Qt) thread, a station started here would inherit the window's priority
    made: list[Any] = []
    launcher().spawn(lambda: made.append(_started(station_factory(cfg, fake)())), "bench-start").join()
    station = made[0]
    samples: list[tuple[float, float]] = []
    stop = threading.Event()

    def sample() -> None:
        t0 = time.monotonic()
        while not stop.wait(1.0):
            samples.append((time.monotonic() - t0, rss_mb()))

    threading.Thread(target=sample, daemon=True).start()
    time.sleep(warmup)
    n0, t0, c0 = station.counters["total"], time.monotonic(), thread_cpu()
    time.sleep(seconds)
    n1, t1, c1 = station.counters["total"], time.monotonic(), thread_cpu()
    stop.set()
    station.stop()
    return {"parts_per_s": (n1 - n0) / (t1 - t0), "parts": n1 - n0, "rss": samples,
            "cpu_cores": cpu_share(c0, c1, t1 - t0)}


def _started(station: Any) -> Any:
    station.start()
    return station


_launcher: Any = None


def launcher() -> Any:
    """One normal-priority thread spawner for the whole run, made before any window lowers this thread."""
    global _launcher
    if _launcher is None:
        from ui.priority import Launcher

        _launcher = Launcher()
    return _launcher


def run_window(cfg: Any, fake: bool, seconds: float, warmup: float) -> dict[str, Any]:
    from PyQt6.QtCore import QTimer
    from PyQt6.QtWidgets import QApplication

    from ui.app import freeze_startup_objects
    from ui.controller import StationController
    from ui.feed import StationFeed
    from ui.i18n import Translations
    from ui.main_window import MainWindow

    app = QApplication.instance() or QApplication([])
    feed = StationFeed()
    controller = StationController(station_factory(cfg, fake), feed, control_socket=False,
                                   launcher=launcher())
    controller.started.connect(freeze_startup_objects)  # as run_gui does
    window = MainWindow(cfg, controller, feed, Translations(app))
    window.resize(1600, 1000)
    window.show()
    out: dict[str, Any] = {"rss": [], "late_ms": []}
    state: dict[str, Any] = {"last": None, "measuring": False}

    def heartbeat() -> None:
        now = time.perf_counter()
        if state["last"] is not None and state["measuring"]:
            out["late_ms"].append(max(0.0, (now - state["last"]) * 1000 - HEARTBEAT_MS))
        state["last"] = now

    beat = QTimer()
    beat.setTimerType(beat.timerType().PreciseTimer)
    beat.timeout.connect(heartbeat)
    beat.start(HEARTBEAT_MS)
    sampler = QTimer()
    t_start = time.monotonic()
    sampler.timeout.connect(lambda: out["rss"].append((time.monotonic() - t_start, rss_mb())))
    sampler.start(1000)

    def begin() -> None:
        if window.phase != "running":
            QTimer.singleShot(200, begin)
            return
        QTimer.singleShot(int(warmup * 1000), measure)

    def measure() -> None:
        out["n0"], out["t0"] = controller.station.counters["total"], time.monotonic()
        out["cpu0"] = thread_cpu()
        out["shown0"] = window.live.shown
        state["measuring"] = True
        QTimer.singleShot(int(seconds * 1000), finish)

    def finish() -> None:
        state["measuring"] = False
        out["n1"], out["t1"] = controller.station.counters["total"], time.monotonic()
        out["cpu1"] = thread_cpu()
        out["shown1"] = window.live.shown
        window.close()  # graceful stop; the app quits when the window is gone

    window.start_station()
    QTimer.singleShot(200, begin)
    app.exec()
    beat.stop()
    sampler.stop()
    late = sorted(out["late_ms"]) or [0.0]
    return {
        "parts_per_s": (out["n1"] - out["n0"]) / (out["t1"] - out["t0"]),
        "parts": out["n1"] - out["n0"],
        "frames_shown_per_s": (out["shown1"] - out["shown0"]) / (out["t1"] - out["t0"]),
        "stall_max_ms": late[-1],
        "stall_p99_ms": late[min(len(late) - 1, int(0.99 * len(late)))],
        "beats": len(out["late_ms"]),
        "rss": out["rss"],
        "cpu_cores": cpu_share(out["cpu0"], out["cpu1"], out["t1"] - out["t0"]),
    }


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--seconds", type=float, default=10.0, help="measured time per half")
    p.add_argument("--warmup", type=float, default=3.0)
    p.add_argument("--rounds", type=int, default=1, help="headless/window pairs, alternated")
    p.add_argument("--rate-hz", type=float, default=1000.0, help="free-run rate; high = as fast as it goes")
    p.add_argument("--display-fps", type=float, default=None, help="[ui] display_fps (default: the config's)")
    p.add_argument("--nice", type=int, default=None, help="[ui] nice (default: the config's)")
    p.add_argument("--fake", action="store_true", help="ground-truth stand-in model instead of the release")
    p.add_argument("--json", type=Path, default=None, help="write the numbers here too")
    args = p.parse_args(argv)
    if not (os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY")):
        os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    from ui.qt_env import clean_qt_env

    clean_qt_env()
    from inspect_app.demo import default_model_dir

    fake = args.fake or not (default_model_dir() / "manifest.json").exists()
    work = Path(tempfile.mkdtemp(prefix="bench-ui-"))
    configure_offline(work)
    launcher()
    headless, window = [], []
    for k in range(args.rounds):
        for name, runner, bucket in (("headless", run_headless, headless), ("window", run_window, window)):
            cfg = make_config(work / f"{name}-{k}", fake, args.rate_hz, args.display_fps, args.nice)
            r = runner(cfg, fake, args.seconds, args.warmup)
            bucket.append(r)
            stall = f", longest UI stall {r['stall_max_ms']:.1f} ms" if "stall_max_ms" in r else ""
            print(f"round {k + 1} {name}: {r['parts_per_s']:.1f} parts/s{stall}", flush=True)
            print(f"  cores used per thread: {r['cpu_cores']}", flush=True)
    h = statistics.fmean(r["parts_per_s"] for r in headless)
    w = statistics.fmean(r["parts_per_s"] for r in window)
    rss = [m for r in window for _, m in r["rss"]]
    report = {
        "model": "ground-truth stand-in" if fake else str(default_model_dir()),
        "seconds": args.seconds, "rounds": args.rounds, "command": " ".join(sys.argv),
        "ui": cfg.ui.model_dump(include={"display_fps", "nice"}),
        "headless_parts_per_s": h, "window_parts_per_s": w, "ratio": w / h if h else None,
        "stall_max_ms": max(r["stall_max_ms"] for r in window),
        "stall_p99_ms": max(r["stall_p99_ms"] for r in window),
        "frames_shown_per_s": statistics.fmean(r["frames_shown_per_s"] for r in window),
        "rss_first_mb": window[0]["rss"][0][1] if window[0]["rss"] else None,
        "rss_last_mb": window[-1]["rss"][-1][1] if window[-1]["rss"] else None,
        "rss_max_mb": max(rss) if rss else None,
        "rss_slope_mb_per_min": slope_mb_per_min(window[-1]["rss"]),
        "rss_slope_after_2min_mb_per_min": slope_mb_per_min([x for x in window[-1]["rss"] if x[0] >= 120]),
        "rss_window_every_30s": [(round(t), round(m, 1)) for t, m in window[-1]["rss"][::30]],
        "rss_headless_every_30s": [(round(t), round(m, 1)) for t, m in headless[-1]["rss"][::30]],
        "rss_headless_slope_after_2min_mb_per_min": slope_mb_per_min(
            [x for x in headless[-1]["rss"] if x[0] >= 120]),
        "cpu_cores_headless": headless[-1]["cpu_cores"], "cpu_cores_window": window[-1]["cpu_cores"],
        "peak_rss_mb_process": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        "cpus": os.cpu_count(),
    }  # fmt: skip
    print()
    print(f"| model | {report['model']} |\n|---|---|")
    print(f"| throughput headless / window (parts/s) | {h:.1f} / {w:.1f} (ratio {report['ratio']:.3f}) |")
    print(f"| longest UI stall / p99 (ms) | {report['stall_max_ms']:.1f} / {report['stall_p99_ms']:.1f} |")
    print(f"| live view repaints/s | {report['frames_shown_per_s']:.1f} |")
    first, last, top = report["rss_first_mb"], report["rss_last_mb"], report["rss_max_mb"]
    print(f"| RSS first / last / max (MB), slope | {first:.0f} / {last:.0f} / {top:.0f}, "
          f"{report['rss_slope_mb_per_min']:+.2f} MB/min |")
    if len(window[-1]["rss"]) > 150:
        print(f"| RSS slope after the first 2 minutes: window / headless | "
              f"{report['rss_slope_after_2min_mb_per_min']:+.2f} / "
              f"{report['rss_headless_slope_after_2min_mb_per_min']:+.2f} MB/min |")
    if args.json:
        args.json.write_text(json.dumps(report, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
