"""Station benchmark (issue 2): the same model and the same 200 frames, everything in one run.

    .venv/bin/python bench/bench_station.py [--model models/synth-pcb/0.2.0] [--frames 200] [--threads 2]

Measures, at imgsz 640 and 320 (the release's weights re-exported at 640):
  * ultralytics ``YOLO(pt).predict`` end to end per frame,
  * the station's capture -> verdict latency (one part in flight) with the onnxruntime and OpenVINO backends,
  * model-only inference (``session.run`` / OpenVINO ``infer``) on a prepared input,
  * pipelined throughput (parts/s, free-run, results logged and images saved) vs a null store,
  * the result store's write rate (inspections/s),
  * start-up to first verdict and peak resident memory of ``inspect-app demo --headless``.
Prints a markdown report (ratios are within this one run; this machine is noisy) and writes JSON.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

# the ultralytics baseline runs with torch's default (spinning) OpenMP threads: the fairest case for it
os.environ.setdefault("OMP_WAIT_POLICY", "ACTIVE")

from inspect_app.offline import configure_offline  # noqa: E402


def pct(values: list[float], q: float) -> float:
    return float(np.percentile(np.asarray(values), q))


def frames(n: int, seed: int = 42) -> list[np.ndarray]:
    from inspect_app.synth.generator import PartGenerator

    gen = PartGenerator("pcb", 640, 640, seed=seed, defect_rate=0.5)
    return [gen.generate(i).image for i in range(n)]


def release_at(model_dir: Path, imgsz: int, work: Path) -> Path:
    """The same weights exported at another input size (YOLO is size-agnostic), in a subprocess."""
    from inspect_app.model_release import load_release

    rel = load_release(model_dir)
    if rel.imgsz[0] == imgsz:
        return model_dir
    out = work / "releases"
    target = out / rel.name / f"{rel.version}-{imgsz}"
    if not target.exists():
        code = (
            f"from inspect_app.offline import configure_offline; configure_offline({str(REPO / 'var')!r}); "
            f"from training.release import write_release; write_release({str(rel.file('model.pt'))!r}, "
            f"__import__('pathlib').Path({str(out)!r}), {rel.name!r}, '{rel.version}-{imgsz}', {imgsz})"
        )
        subprocess.run([sys.executable, "-c", code], check=True, cwd=REPO, stdout=subprocess.DEVNULL)
    return target


def bench_ultralytics(model_dir: Path, n: int, imgsz: int, threads: int) -> list[float]:
    """``YOLO(pt).predict`` per frame, in its own process: torch's spinning OpenMP threads (the default,
    the fairest setting for it) would otherwise steal the cores of the runtimes measured after it."""
    out = subprocess.run(
        [sys.executable, __file__, "--ultralytics-only", str(model_dir), str(n), str(imgsz), str(threads)],
        check=True,
        cwd=REPO,
        capture_output=True,
        text=True,
    ).stdout
    return json.loads(out.strip().splitlines()[-1])


def _ultralytics_only(model_dir: Path, n: int, imgsz: int, threads: int) -> None:
    configure_offline(REPO / "var")
    import torch
    from ultralytics import YOLO

    imgs = frames(n)
    model = YOLO(str(model_dir / "model.pt"))
    out = []
    for i, img in enumerate([imgs[0], *imgs]):
        torch.set_num_threads(threads)  # predict drops torch to 1 thread on small machines
        t = time.perf_counter()
        model.predict(img, imgsz=imgsz, conf=0.25, iou=0.7, verbose=False, device="cpu", rect=False)
        if i:  # the first call builds the predictor
            out.append((time.perf_counter() - t) * 1000)
    print(json.dumps(out))


def bench_model_only(
    model_dir: Path, backend: str, imgs: list[np.ndarray], threads: int, precision: str = "f32"
) -> list[float]:
    from inspect_app.detector import load_detector
    from inspect_app.detector.preprocess import preprocess

    det = load_detector(model_dir, backend, threads, precision=precision)
    blob, _ = preprocess(imgs[0], det.info.imgsz)
    det._infer(blob)
    out = []
    for img in imgs:
        blob, _ = preprocess(img, det.info.imgsz)
        t = time.perf_counter()
        det._infer(blob)
        out.append((time.perf_counter() - t) * 1000)
    det.close()
    return out


def _station(
    model_dir: Path,
    backend: str,
    imgs: list[np.ndarray],
    state: Path,
    threads: int,
    mode: str,
    store: object = None,
    max_parts: int | None = None,
    precision: str = "f32",
):
    from inspect_app.config import parse_config
    from inspect_app.detector import load_detector
    from inspect_app.station import Station
    from inspect_app.testing.fakes import ScriptedSource

    cfg = parse_config(
        {
            "state_dir": str(state),
            "trigger": {"mode": mode, "rate_hz": 1000, "queue_size": 64},
            "detector": {"backend": backend, "threads": threads, "precision": precision},
            "store": {"save_pass_every": 20},
            "recipes": {"r": {"model": str(model_dir), "min_conf": 0.4}},
            "active_recipe": "r",
        }
    )
    det = load_detector(model_dir, backend, threads, precision=precision)
    det.warmup()
    st = Station(
        cfg,
        source=ScriptedSource(imgs, loop=True),
        detectors={str(model_dir): det},
        store=store,
        max_parts=max_parts,
    )
    return st


def bench_station_latency(
    model_dir: Path, backend: str, imgs: list[np.ndarray], work: Path, threads: int, precision: str = "f32"
) -> list[float]:
    """Capture -> verdict with one part in flight (software trigger, wait for its commit)."""
    st = _station(model_dir, backend, imgs, work / f"lat-{backend}-{precision}-{model_dir.name}", threads,
                  "software", precision=precision)
    totals: list[float] = []
    st.add_result_listener(lambda r: totals.append(r.inspection.timings_ms["total"]))
    st.start()
    st.trigger()
    st.wait_for_results(1, 30)
    totals.clear()
    for i in range(len(imgs)):
        st.trigger()
        st.wait_for_results(i + 2, 30)
    st.stop()
    return totals


class NullStore:
    """Commits instantly in memory: the pipeline's speed without SQLite and image writes."""

    healthy = True

    def __init__(self) -> None:
        self._listeners = []
        self.n = 0

    def start(self) -> None: ...
    def add_commit_listener(self, fn) -> None:
        self._listeners.append(fn)

    def add_event_listener(self, fn) -> None: ...
    def record_event(self, event) -> None: ...
    def close(self, timeout: float = 30) -> None: ...

    def submit(self, inspection) -> None:
        from inspect_app.types import CommittedInspection

        self.n += 1
        c = CommittedInspection(self.n, inspection, None, time.monotonic())
        for fn in self._listeners:
            fn(c)


def bench_throughput(
    model_dir: Path,
    backend: str,
    imgs: list[np.ndarray],
    work: Path,
    threads: int,
    parts: int,
    null_store: bool,
    precision: str = "f32",
) -> float:
    name = f"{'null' if null_store else 'sqlite'}-{precision}"
    st = _station(
        model_dir,
        backend,
        imgs,
        work / f"thr-{name}",
        threads,
        "free_run",
        store=NullStore() if null_store else None,
        max_parts=parts,
        precision=precision,
    )
    stamps: list[float] = []
    st.add_result_listener(lambda r: stamps.append(time.monotonic()))
    st.start()
    st.wait_for_results(parts, 300)
    st.stop()
    skip = min(10, parts // 10)  # start-up transient
    return (len(stamps) - 1 - skip) / (stamps[-1] - stamps[skip])


def bench_store(work: Path, n: int) -> float:
    from inspect_app.config import StoreConfig
    from inspect_app.store import ImageArchive, SqliteResultStore
    from inspect_app.types import Decision, Detection, Inspection, Verdict

    cfg = StoreConfig(save_pass_every=0)
    root = work / "store-bench"
    store = SqliteResultStore(root / "results.db", ImageArchive(root / "images", cfg), cfg, station="bench")
    done = []
    store.add_commit_listener(lambda c: done.append(1))
    store.start()
    dets = (Detection(0, "scratch", 0.3, (1, 2, 3, 4)), Detection(1, "pit", 0.2, (5, 6, 7, 8)))
    t = time.perf_counter()
    for i in range(n):
        store.submit(
            Inspection(
                f"p{i}",
                i,
                "bench",
                "bench",
                "r",
                "m/1",
                "0" * 64,
                Decision(Verdict.PASS),
                dets,
                {"detect": 1.0, "total": 2.0},
                i,
                time.time(),
                "bench",
            )
        )
    store.close()
    return n / (time.perf_counter() - t)


def bench_startup(work: Path, model_dir: Path) -> tuple[float, float]:
    env = {**os.environ, "PYTHONUNBUFFERED": "1", "INSPECT_APP_MODELS": str(model_dir.parent.parent)}
    state = work / "startup"
    t0 = time.monotonic()
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "inspect_app.cli",
            "demo",
            "--headless",
            "--max-parts",
            "30",
            "--state-dir",
            str(state),
        ],
        stdout=subprocess.PIPE,
        text=True,
        env=env,
    )
    first = None
    peak_kb = 0
    assert proc.stdout is not None
    for line in proc.stdout:
        if first is None and "first verdict" in line:
            first = time.monotonic() - t0
        try:
            status = Path(f"/proc/{proc.pid}/status").read_text()
            peak_kb = max(peak_kb, int(status.split("VmHWM:")[1].split()[0]))
        except (OSError, IndexError):
            pass
    proc.wait()
    return first or float("nan"), peak_kb / 1024


def main() -> int:
    if len(sys.argv) > 1 and sys.argv[1] == "--ultralytics-only":
        _ultralytics_only(Path(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4]), int(sys.argv[5]))
        return 0
    from inspect_app.demo import default_model_dir

    p = argparse.ArgumentParser()
    p.add_argument("--model", type=Path, default=None)
    p.add_argument("--frames", type=int, default=200)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--parts", type=int, default=600, help="parts for the throughput runs")
    p.add_argument("--out", type=Path, default=REPO / "bench" / "results" / "station.json")
    args = p.parse_args()
    work = Path(tempfile.mkdtemp(prefix="bench-station-"))
    configure_offline(REPO / "var")
    model = (args.model or default_model_dir()).resolve()
    imgs = frames(args.frames)
    res: dict = {
        "frames": args.frames,
        "threads": args.threads,
        "model": str(model.relative_to(REPO)) if model.is_relative_to(REPO) else str(model),
    }
    variants = (("onnxruntime", "f32"), ("openvino", "f32"), ("openvino", "bf16"))
    for imgsz in (640, 320):
        mdir = release_at(model, imgsz, work)
        row = {"ultralytics_predict": bench_ultralytics(mdir, args.frames, imgsz, args.threads)}
        for backend, prec in variants:
            key = f"{backend}_{prec}"
            row[f"model_only_{key}"] = bench_model_only(mdir, backend, imgs, args.threads, prec)
            row[f"station_{key}"] = bench_station_latency(mdir, backend, imgs, work, args.threads, prec)
        res[str(imgsz)] = {
            k: {"p50": pct(v, 50), "p99": pct(v, 99), "mean": statistics.fmean(v)} for k, v in row.items()
        }
    native = release_at(model, 320, work)
    for prec in ("f32", "bf16"):
        res[f"throughput_sqlite_{prec}"] = bench_throughput(
            native, "openvino", imgs, work, args.threads, args.parts, False, prec
        )
        res[f"throughput_null_store_{prec}"] = bench_throughput(
            native, "openvino", imgs, work, args.threads, args.parts, True, prec
        )
    res["store_rate"] = bench_store(work, 20000)
    res["startup_s"], res["peak_rss_mb"] = bench_startup(work, model)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(res, indent=2))
    print(report(res))
    return 0


def report(res: dict) -> str:
    keys = ("onnxruntime_f32", "openvino_f32", "openvino_bf16")
    lines = [
        f"Model `{res['model']}`, {res['frames']} frames 640x640, {res['threads']} threads. Medians in ms "
        "(p50; p99 in bench/results/station.json).",
        "",
        "| imgsz | ultralytics predict | "
        + " | ".join(f"station {k}" for k in keys)
        + " | "
        + " | ".join(f"model-only {k}" for k in keys)
        + " |",
        "|---|---|" + "---|" * (2 * len(keys)),
    ]
    for imgsz in ("640", "320"):
        r = {k: v["p50"] for k, v in res[imgsz].items()}
        lines.append(
            f"| {imgsz} | {r['ultralytics_predict']:.2f} | "
            + " | ".join(f"{r['station_' + k]:.2f}" for k in keys)
            + " | "
            + " | ".join(f"{r['model_only_' + k]:.2f}" for k in keys)
            + " |"
        )
    lines += [
        "",
        "| imgsz | precision | station / ultralytics predict | station / fastest model-only |",
        "|---|---|---|---|",
    ]
    for imgsz in ("640", "320"):
        r = {k: v["p50"] for k, v in res[imgsz].items()}
        for prec, pool in (("f32", ("onnxruntime_f32", "openvino_f32")), ("bf16 allowed", keys)):
            best = min(r["station_" + k] for k in pool)
            fastest = min(r["model_only_" + k] for k in pool)
            lines.append(
                f"| {imgsz} | {prec} | {best / r['ultralytics_predict']:.2f}x | {best / fastest:.2f}x |"
            )
    lines.append("")
    for prec in ("f32", "bf16"):
        mo = res["320"][f"model_only_openvino_{prec}"]["p50"]
        thr, null = res[f"throughput_sqlite_{prec}"], res[f"throughput_null_store_{prec}"]
        lines.append(
            f"* pipelined throughput (OpenVINO {prec}, 320, SQLite + images): {thr:.1f} parts/s = "
            f"{thr * mo / 1000:.2f}x of 1/model-only ({1000 / mo:.1f}/s); with a null store "
            f"{null:.1f} parts/s (SQLite costs {100 * (1 - thr / null):.1f} %)"
        )
    lines += [
        f"* result store alone: {res['store_rate']:.0f} inspections/s",
        f"* demo start-up to first verdict: {res['startup_s']:.2f} s; peak RSS {res['peak_rss_mb']:.0f} MB",
    ]
    return "\n".join(lines)


if __name__ == "__main__":
    raise SystemExit(main())
