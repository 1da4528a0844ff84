"""Soak test (issue 9): the station for half an hour or more at >= 20 parts/s under random faults.

    .venv/bin/python bench/soak.py --minutes 30 --rate 20 --json bench/results/soak.json

The station runs as in production (``RunSession``: state-dir lock, links), on the bundled model, reading a
real MJPEG-over-HTTP camera on loopback that serves synthetic boards at 30 fps, triggered in software by a
"line" thread at ``--rate``. Faults come one at a time after a random healthy spell:

* ``camera_loss``: the camera's server stops (connections closed), and comes back;
* ``freeze``: the camera sends the same picture again and again;
* ``corrupt``: the camera sends damaged JPEGs (cut short, end marker appended);
* ``detector_stall``: inference blocks for longer than the stall timeout;
* ``disk_full``: the state dir's volume (a tmpfs, when run as root) is filled to the last byte;
* ``plc_cut``: the PLC's OPC UA server (a separate process, client mode) is frozen with SIGSTOP, or killed
  and restarted (``--plc client``; needs the PLC simulator process of ``plc``).

After each fault the "operator" acknowledges the Error once its cause is gone (as the window's Reset does).

Reported: parts triggered, rows in results.db, results delivered to the PLC (all three must be equal), judged
(PASS/FAIL) verdicts on a picture taken inside a freeze or damaged-frame window (must be 0), the RSS slope
after the first minute (< 1 MB/min), the WAL's size, and per fault kind the time from the fault to Error.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import random
import signal
import statistics
import sys
import tempfile
import threading
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "bench"))

from cpuinfo import cpu_line, cpu_summary  # noqa: E402

from inspect_app.offline import configure_offline  # noqa: E402

FAULTS = ("camera_loss", "freeze", "corrupt", "detector_stall", "disk_full", "plc_cut")
BAD_PICTURE_FAULTS = ("freeze", "corrupt")  # nothing taken inside these windows may be judged


@dataclass
class FaultRecord:
    kind: str
    start: float  # wall clock
    end: float = 0.0
    to_error_s: float | None = None  # fault start -> station in Error (None: no Error came)
    to_alarm_s: float | None = None  # fault start -> first error event (e.g. "image saving stopped")
    detail: str = ""


@dataclass
class Report:
    cpu: dict
    minutes: float
    rate_hz: float
    triggered: int = 0
    rows: int = 0
    delivered_to_plc: int | None = None
    judged_bad_pictures: int = 0
    verdicts: dict = field(default_factory=dict)
    error_codes: dict = field(default_factory=dict)
    rss_mb: list = field(default_factory=list)  # (minute, MB)
    rss_slope_mb_per_min: float = 0.0
    wal_max_mb: float = 0.0
    db_mb: float = 0.0
    faults: list = field(default_factory=list)
    to_error_by_kind: dict = field(default_factory=dict)
    notes: list = field(default_factory=list)


class StallingDetector:
    """The real detector, with a switch that makes ``detect`` block (a hung inference)."""

    def __init__(self, inner: Any) -> None:
        self.inner = inner
        self.info = inner.info
        self._go = threading.Event()
        self._go.set()

    def stall(self) -> None:
        self._go.clear()

    def release(self) -> None:
        self._go.set()

    def detect(self, image: Any, conf: float, iou: float) -> list:
        self._go.wait()
        return self.inner.detect(image, conf=conf, iou=iou)

    def warmup(self) -> None:
        with contextlib.suppress(AttributeError):
            self.inner.warmup()

    def close(self) -> None:
        self.inner.close()


def rss_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def slope(points: list[tuple[float, float]]) -> float:
    if len(points) < 2:
        return 0.0
    xs, ys = [p[0] for p in points], [p[1] for p in points]
    mx, my = statistics.fmean(xs), statistics.fmean(ys)
    den = sum((x - mx) ** 2 for x in xs)
    return sum((x - mx) * (y - my) for x, y in zip(xs, ys, strict=True)) / den if den else 0.0


class Soak:
    def __init__(self, args: argparse.Namespace, work: Path) -> None:
        self.args = args
        self.work = work
        self.rng = random.Random(args.seed)
        self.report = Report(cpu_summary(), args.minutes, args.rate)
        self.errors: list[tuple[float, str]] = []  # (wall time, error code) of each entry into Error
        self.alarms: list[float] = []  # wall time of each error-severity event
        self._errors_lock = threading.Lock()
        self.stop_line = threading.Event()
        self.volume: Path | None = None
        self.plc: Any = None

    # ------------------------------------------------------------------ set-up
    def build(self) -> None:
        from inspect_app.config import parse_config
        from inspect_app.detector import load_detector
        from inspect_app.run_session import RunSession
        from inspect_app.station import Station
        from inspect_app.synth.generator import PartGenerator
        from inspect_app.testing.mjpeg_camera import MjpegCamera
        from inspect_app.testing.volumes import mount_tmpfs

        state = self.work / "state"
        if self.args.disk_mb and mount_tmpfs(self.work / "vol", self.args.disk_mb) is None:
            self.volume = self.work / "vol"
            state = self.volume / "state"
        else:
            self.report.notes.append("disk_full fault skipped: no tmpfs (run as root)")
        configure_offline(self.work / "cache-root")
        gen = PartGenerator("pcb", 320, 320, seed=7, defect_rate=0.3)
        pictures = [gen.generate(i).image for i in range(90)]
        self.camera = MjpegCamera(fps=30, frames=lambda c: pictures[c % len(pictures)]).start()
        model = str(REPO / "models" / "synth-pcb" / "0.2.0")
        data: dict[str, Any] = {
            "station": {"name": "soak"},
            "state_dir": str(state),
            "source": {"kind": "opencv", "uri": self.camera.url, "open_timeout_s": 3, "read_timeout_s": 1,
                       "stale_after": 3, "stale_clear_after": 5, "reconnect_min_s": 0.2,
                       "reconnect_max_s": 2},
            "trigger": {"mode": "software", "queue_size": 64},
            "detector": {"backend": "openvino", "threads": 2},
            "pipeline": {"stall_timeout_s": 3},
            "store": {"save_pass_every": 50, "reserve_mb": 8, "flush_timeout_s": 10,
                      "retention": {"min_free_mb": 4, "resume_free_mb": 6, "stop_saving_free_mb": 2,
                                    "hysteresis_mb": 2, "check_interval_s": 2}},
            "recipes": {"r": {"model": model, "min_conf": 0.25}},
            "active_recipe": "r",
        }  # fmt: skip
        if self.args.plc == "client":
            from soak_plc import PlcPeer  # the PLC's own OPC UA server, a separate process

            self.plc = PlcPeer(self.work / "plc")
            data["opcua"] = self.plc.client_config()
        cfg = parse_config(data)
        inner = load_detector(model, "openvino", 2)
        inner.warmup()
        self.detector = StallingDetector(inner)
        self.session = RunSession(cfg, lambda: Station(cfg, detectors={model: self.detector}),
                                  control_socket=False, on_event=self._on_event)  # fmt: skip
        self.cfg = cfg

    def _on_event(self, ev: Any) -> None:
        with self._errors_lock:
            if ev.kind == "state" and ev.payload.get("new") == "Error":
                self.errors.append((ev.time, str(ev.payload.get("error_code"))))
            if str(ev.severity) == "error":
                self.alarms.append(ev.time)

    # ------------------------------------------------------------------ the line
    def line(self, station: Any) -> None:
        from inspect_app.sources.pacing import Pacer
        from inspect_app.station import NotRunning

        pacer = Pacer(self.args.rate)
        n = 0
        while not self.stop_line.is_set():
            pacer.wait()
            try:
                station.trigger(f"soak-{n:07d}")
            except NotRunning:
                break
            n += 1
        self.report.triggered = n

    # ------------------------------------------------------------------ faults
    def inject(self, kind: str, station: Any) -> FaultRecord:
        rec = FaultRecord(kind, time.time())
        duration = self.rng.uniform(3.0, 10.0)
        if kind == "camera_loss":
            self.camera.stop()
            time.sleep(duration)
            self.camera.start()
        elif kind in ("freeze", "corrupt"):
            self.camera.mode = kind
            time.sleep(duration)
            self.camera.mode = "live"
        elif kind == "detector_stall":
            self.detector.stall()
            time.sleep(max(duration, self.cfg.pipeline.stall_timeout_s + 1.0))
            self.detector.release()
        elif kind == "disk_full":
            from inspect_app.testing.volumes import fill

            assert self.volume is not None
            filler = fill(self.volume)
            time.sleep(duration)
            filler.unlink()
        elif kind == "plc_cut":
            watch = threading.Thread(target=self._watch_link, args=(rec,), daemon=True)
            watch.start()
            rec.detail = self.plc.cut(duration, self.rng)
            watch.join(1.0)
        rec.end = time.time()
        time.sleep(1.0)  # events of the fault's end reach the listener
        with self._errors_lock:
            after = [t for t, _code in self.errors if t >= rec.start]
            alarms = [t for t in self.alarms if t >= rec.start]
        rec.to_error_s = round(after[0] - rec.start, 3) if after else None
        if rec.to_alarm_s is None:
            rec.to_alarm_s = round(alarms[0] - rec.start, 3) if alarms else None
        return rec

    def _watch_link(self, rec: FaultRecord) -> None:
        """A PLC cut is not the station's Error (it inspects on; the outbox holds the results): what is
        measured is how soon the link says it is down (its light, its LINK_LOST fault)."""
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            health = self.session.health()
            if health is not None and health.links and not health.links[0].connected:
                rec.to_alarm_s = round(time.time() - rec.start, 3)
                return
            time.sleep(0.02)

    def recover(self, station: Any, timeout: float = 60.0) -> None:
        """The operator's acknowledge, once the cause is gone."""
        deadline = time.monotonic() + timeout
        while station.state.value == "Error" and time.monotonic() < deadline:
            if not station.reset("soak-operator"):
                time.sleep(0.5)

    # ------------------------------------------------------------------ run
    def run(self) -> Report:
        self.build()
        station = self.session.start()
        t0 = time.monotonic()
        end = t0 + self.args.minutes * 60
        line = threading.Thread(target=self.line, args=(station,), name="soak-line", daemon=True)
        line.start()
        sampler = threading.Thread(target=self.sample, args=(t0, end), name="soak-sampler", daemon=True)
        sampler.start()
        kinds = [k for k in FAULTS if (k != "disk_full" or self.volume) and (k != "plc_cut" or self.plc)]
        order: list[str] = []
        while time.monotonic() < end - 30:
            time.sleep(self.rng.uniform(self.args.healthy_min_s, self.args.healthy_max_s))
            if time.monotonic() >= end - 30:
                break
            if not order:
                order = kinds[:]
                self.rng.shuffle(order)
            rec = self.inject(order.pop(), station)
            self.report.faults.append(asdict(rec))
            print(f"[{(time.monotonic() - t0) / 60:5.1f} min] {rec.kind}: {rec.end - rec.start:.1f}s, "
                  f"Error after {rec.to_error_s}s {rec.detail}", flush=True)  # fmt: skip
            self.recover(station)
        while time.monotonic() < end:
            time.sleep(1)
        self.stop_line.set()
        line.join(10)
        station.wait_for_results(self.report.triggered, 60)
        if self.plc is not None:  # the outbox drains what the last cut held back
            deadline = time.monotonic() + 120
            while self.plc.delivered(settle_s=0) < station.counters["total"] and time.monotonic() < deadline:
                time.sleep(1)
        problem = self.session.stop()
        if problem:
            self.report.notes.append(f"stop: {problem}")
        self.session.close()
        self.finish()
        return self.report

    def sample(self, t0: float, end: float) -> None:
        db = Path(self.cfg.state_dir) / self.cfg.store.db
        wal = db.with_name(db.name + "-wal")
        while time.monotonic() < end:
            minute = (time.monotonic() - t0) / 60
            self.report.rss_mb.append((round(minute, 2), round(rss_mb(), 1)))
            with contextlib.suppress(OSError):
                self.report.wal_max_mb = max(self.report.wal_max_mb, wal.stat().st_size / 2**20)
            time.sleep(10)

    def finish(self) -> None:
        from inspect_app.testing.records import rows

        r = self.report
        got = rows(self.cfg, "select part_id, verdict, error_code, epoch from inspections")
        r.rows = len(got)
        for row in got:
            r.verdicts[row["verdict"]] = r.verdicts.get(row["verdict"], 0) + 1
            if row["error_code"]:
                r.error_codes[row["error_code"]] = r.error_codes.get(row["error_code"], 0) + 1
        windows = [(f["start"] + 0.1, f["end"]) for f in r.faults if f["kind"] in BAD_PICTURE_FAULTS]
        judged = [row["epoch"] for row in got if row["verdict"] != "NOT_INSPECTED"]
        r.judged_bad_pictures = sum(1 for t in judged if any(a < t < b for a, b in windows))
        late = [(m, v) for m, v in r.rss_mb if m >= 1.0]
        r.rss_slope_mb_per_min = round(slope(late), 3)
        db = Path(self.cfg.state_dir) / self.cfg.store.db
        r.db_mb = round(db.stat().st_size / 2**20, 2)
        r.wal_max_mb = round(r.wal_max_mb, 2)
        for kind in FAULTS:
            mine = [f for f in r.faults if f["kind"] == kind]
            if not mine:
                continue
            times = [f["to_error_s"] for f in mine if f["to_error_s"] is not None]
            alarms = [f["to_alarm_s"] for f in mine if f["to_alarm_s"] is not None]
            r.to_error_by_kind[kind] = {
                "n": len(mine), "no_error": len(mine) - len(times), "no_alarm": len(mine) - len(alarms),
                "median_s": statistics.median(times) if times else None, "max_s": max(times, default=None),
                "alarm_median_s": statistics.median(alarms) if alarms else None,
                "alarm_max_s": max(alarms, default=None),
            }  # fmt: skip
        if self.plc is not None:
            r.delivered_to_plc = self.plc.delivered()
            dup = self.plc.duplicates()
            if dup:
                r.notes.append(f"the PLC received {dup} result(s) twice")
            self.plc.close()
        self.camera.stop()
        if self.volume is not None:
            from inspect_app.testing.volumes import unmount

            unmount(self.volume)


def render(r: Report) -> str:
    ok = lambda b: "ok" if b else "NOT MET"  # noqa: E731
    lines = [
        f"# Soak: {r.minutes:g} min at {r.rate_hz:g} parts/s",
        cpu_line(),
        f"parts triggered {r.triggered}, rows {r.rows} ({ok(r.triggered == r.rows)})"
        + (f", delivered to the PLC {r.delivered_to_plc} ({ok(r.delivered_to_plc == r.rows)})"
           if r.delivered_to_plc is not None else ""),
        f"judged verdicts on pictures taken in a freeze/damaged window: {r.judged_bad_pictures} "
        f"({ok(r.judged_bad_pictures == 0)})",
        f"RSS slope after minute 1: {r.rss_slope_mb_per_min:+.3f} MB/min "
        f"({ok(r.rss_slope_mb_per_min < 1.0)}); "
        f"RSS {r.rss_mb[0][1] if r.rss_mb else '?'} -> {r.rss_mb[-1][1] if r.rss_mb else '?'} MB",
        f"WAL max {r.wal_max_mb} MB, DB {r.db_mb} MB",
        f"verdicts {r.verdicts}; error codes {r.error_codes}",
        "fault -> Error / first alarm (s):",
        *(f"  {k}: n={v['n']}, Error median {v['median_s']} max {v['max_s']} ({v['no_error']} without); "
          f"alarm median {v['alarm_median_s']} max {v['alarm_max_s']} ({v['no_alarm']} without)"
          for k, v in r.to_error_by_kind.items()),
    ]  # fmt: skip
    lines += [f"note: {n}" for n in r.notes]
    return "\n".join(lines)


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--minutes", type=float, default=30)
    p.add_argument("--rate", type=float, default=20)
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--healthy-min-s", type=float, default=20)
    p.add_argument("--healthy-max-s", type=float, default=45)
    p.add_argument("--disk-mb", type=int, default=64, help="tmpfs for the state dir (root only; 0 = off)")
    p.add_argument("--plc", choices=["none", "client"], default="client")
    p.add_argument("--json", type=Path, default=None)
    args = p.parse_args()
    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
    with tempfile.TemporaryDirectory(prefix="soak-") as tmp:
        soak = Soak(args, Path(tmp))
        signal.signal(signal.SIGINT, lambda *_: soak.stop_line.set())
        report = soak.run()
    text = render(report)
    print(text)
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(asdict(report), indent=1))
    good = report.triggered == report.rows and report.judged_bad_pictures == 0
    return 0 if good else 1


if __name__ == "__main__":
    sys.exit(main())
