"""Station benchmark (issues 2 and 13): one model, the same frames, every variant in one run, in turns.

    .venv/bin/python bench/bench_station.py [--model models/synth-pcb/0.3.1] [--frames 200] [--threads N]
        [--parts 600] [--runs 4] [--gap-ms 20] [--only latency,throughput,startup]

Prints the CPU first (its flags decide which precision wins). At imgsz 640 and 320 (the release's weights
re-exported at 640, with an int8 model quantized and gated at 640 on the release's own training data,
cached under var/bench/releases/):

* ultralytics ``YOLO(pt).predict`` per frame (its own process, torch's spinning OpenMP: its best case);
* model-only: the runtime's call on a prepared input, for OpenVINO f32, bf16 (where the CPU has bf16
  units), int8, and onnxruntime f32;
* station decision: trigger -> verdict (``timings_ms`` total: trigger, frame, queue, letterbox, inference,
  NMS, rules; it ends at the rules' decision, before the row's commit that the PLC waits for), and frame ->
  verdict (the same without the trigger's hop to the camera thread), one part at a time, for each of those:
  ``spaced``, the part triggered ``--gap-ms`` after the last one's row committed (a line slower than the
  station), and ``back-to-back``, triggered at once (the station's full rate: the last part's image write
  and signalling share the CPU with this part's inference).

Variants run in turns (round-robin over ``--rounds``, the first one rotating), so a noisy neighbour slows
them alike; ultralytics runs half before and half after. Each spaced part is paired with a model-only call
made ``--gap-ms`` before a lead-in part (the part measured comes ``--gap-ms`` after the lead-in's commit),
and the report gives station / model-only spaced per pair set with a 90 % bootstrap interval: separate
blocks of a few seconds each moved by up to 1.3x on the shared machine, pairs 0.05 s apart much less.
Then at 320, pipelined throughput (free-run as fast as it goes, results in SQLite with FAIL images and 1 in
20 PASS images saved, the OPC UA server on) for f32, bf16 and int8: 1 part in flight, the thread plan's
in-flight on one stream (2 requests), the station's default for a free-run line (``[detector] streams``
unset: the plan's throughput streams, 2 of one thread each on 2 cores, 4 requests), and one stream with the
null store; each variant ``--runs`` times, in ABBA order. Then the demo's start (precision auto): process
start to first verdict, the auto choice, peak RSS. Ratios are within this run; JSON in
bench/results/station.json. ``--threads`` defaults to the thread plan's (``inspect_app.detector.threads``).
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
from typing import Any

import numpy as np

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "bench"))

# the ultralytics baseline runs with torch's default (spinning) OpenMP threads: the fairest case for it
os.environ.setdefault("OMP_WAIT_POLICY", "ACTIVE")

from cpuinfo import cpu_line, cpu_summary  # noqa: E402

from inspect_app.offline import configure_offline  # noqa: E402

CACHE = REPO / "var" / "bench" / "releases"


def pct(values: list[float], q: float) -> float:
    return float(np.percentile(np.asarray(values), q))


def frames(n: int, seed: int = 42) -> list[np.ndarray]:
    from inspect_app.synth.generator import PartGenerator

    gen = PartGenerator("pcb", 640, 640, seed=seed, defect_rate=0.5)
    return [gen.generate(i).image for i in range(n)]


def release_at(model_dir: Path, imgsz: int) -> Path:
    """The release's weights at ``imgsz`` with an int8 model of their own, written once (in a subprocess:
    torch stays out of this process)."""
    from inspect_app.model_release import load_release

    rel = load_release(model_dir, verify=[])
    if rel.imgsz[0] == imgsz:
        return model_dir
    target = CACHE / rel.name / f"{rel.version}-{imgsz}"
    if target.exists():
        return target
    data = str(rel.train.get("data") or "")
    if not Path(data).is_file():
        raise SystemExit(f"{data or 'the training data'} is missing: render it with training.default_model")
    code = (
        f"from inspect_app.offline import configure_offline; configure_offline({str(REPO / 'var')!r})\n"
        "from pathlib import Path\nfrom training.data_yaml import load_data_yaml\n"
        "from training.release import write_release\n"
        f"write_release({str(rel.file('model.pt'))!r}, Path({str(CACHE)!r}), {rel.name!r}, "
        f"'{rel.version}-{imgsz}', {imgsz}, int8_data=load_data_yaml({data!r}))\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True, cwd=REPO, stdout=subprocess.DEVNULL)
    return target


def bench_ultralytics(model_dir: Path, n: int, imgsz: int, threads: int) -> list[float]:
    out = subprocess.run(
        [sys.executable, __file__, "--ultralytics-only", str(model_dir), str(n), str(imgsz), str(threads)],
        check=True, cwd=REPO, capture_output=True, text=True,
    ).stdout  # fmt: skip
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


def variants(model_dir: Path) -> list[tuple[str, str]]:
    from inspect_app.detector.precision import cpu_has_bf16
    from inspect_app.model_release import load_release

    out = [("openvino", "f32")]
    if cpu_has_bf16():
        out.append(("openvino", "bf16"))
    if "int8" in load_release(model_dir, verify=[]).offered():
        out.append(("openvino", "int8"))
    return [*out, ("onnxruntime", "f32")]


def _turns(names: list[str], rounds: int) -> list[list[str]]:
    return [names[r % len(names) :] + names[: r % len(names)] for r in range(rounds)]


def _config(state: Path, mode: str, backend: str, threads: int, precision: str, model_dir: Path, **over: Any):
    from inspect_app.config import parse_config

    data: dict[str, Any] = {
        "state_dir": str(state),
        "trigger": {"mode": mode, "rate_hz": 1000, "queue_size": 64},
        "detector": {"backend": backend, "threads": threads, "precision": precision},
        "store": {"save_pass_every": 20},
        "recipes": {"r": {"model": str(model_dir), "min_conf": 0.4}},
        "active_recipe": "r",
        **over,
    }
    return parse_config(data)


def bench_latency(
    model_dir: Path,
    vs: list[tuple[str, str]],
    imgs: list[np.ndarray],
    work: Path,
    threads: int,
    rounds: int,
    gap_s: float,
) -> dict[str, list[float]]:
    """Per variant: ``model_only`` (the runtime's call alone on the input it takes, prepared beforehand:
    OpenVINO the letterboxed uint8 frame, converted in its graph; onnxruntime the float blob, one call after
    another), ``model_only_spaced`` (the same, ``gap_s`` after the last call, as the station meets it),
    ``station`` (trigger -> verdict) and ``frame_to_verdict`` of a part triggered ``gap_s`` after a lead-in
    part's commit, the lead-in ``gap_s`` after a ``model_only_spaced`` call (the pair), and ``b2b`` (parts
    triggered at once, each after the last one's commit). In rounds, each variant's blocks one after the
    other on the same detector (the station's, between its parts), so a noisy neighbour slows them alike."""
    from inspect_app.detector import load_detector
    from inspect_app.station import Station
    from inspect_app.testing.fakes import ScriptedSource

    stations: dict[str, Station] = {}
    dets: dict[str, Any] = {}
    out: dict[str, list[float]] = {}
    totals: dict[str, list[dict[str, float]]] = {}  # each part's stage timings (ms)
    for b, p in vs:
        key = f"{b}_{p}"
        cfg = _config(work / f"lat-{key}-{model_dir.name}", "software", b, threads, p, model_dir)
        det = dets[key] = load_detector(model_dir, b, threads, precision=p)
        det.warmup()
        st = Station(cfg, source=ScriptedSource(imgs, loop=True), detectors={str(model_dir): det})
        totals[key] = []
        st.add_result_listener(lambda r, k=key: totals[k].append(dict(r.inspection.timings_ms)))
        st.start()
        st.trigger()
        st.wait_for_results(1, 30)
        stations[key] = st
        for tag in ("model_only", "model_only_spaced", "station", "frame_to_verdict", "b2b"):
            out[f"{tag}_{key}"] = []
    inputs = {k: [d._prepare(img)[0] for img in imgs] for k, d in dets.items()}
    done = dict.fromkeys(stations, 1)
    per = max(1, len(imgs) // rounds)
    for r, order in enumerate(_turns(list(stations), rounds)):
        for k in order:
            block = inputs[k][r * per : (r + 1) * per]
            for x in block:
                t = time.perf_counter()
                dets[k]._infer(x)
                out[f"model_only_{k}"].append((time.perf_counter() - t) * 1000)
            # pairs: the runtime's call at the station's pace (its threads idle before it), then a lead-in
            # part, then the part that counts, ``gap_s`` after the lead-in's commit: each spaced part and its
            # model-only twin, 0.05 s apart, see the same state of a noisy machine
            for x in block:
                time.sleep(gap_s)
                t = time.perf_counter()
                dets[k]._infer(x)
                out[f"model_only_spaced_{k}"].append((time.perf_counter() - t) * 1000)
                for _ in range(2):
                    time.sleep(gap_s)
                    totals[k].clear()
                    stations[k].trigger()
                    done[k] += 1
                    stations[k].wait_for_results(done[k], 30)
                    part = listened(totals[k], 1)
                out[f"station_{k}"].append(part["total"])
                # the "capture -> verdict": from the frame, without the trigger's hop to the camera
                out[f"frame_to_verdict_{k}"].append(part["total"] - part["acquire"])
            totals[k].clear()
            for _ in range(per):
                stations[k].trigger()
                done[k] += 1
                stations[k].wait_for_results(done[k], 30)
            listened(totals[k], per)
            out[f"b2b_{k}"] += [t["total"] for t in totals[k]]
    for st in stations.values():
        st.stop()
    return out


def listened(parts: list[dict[str, float]], count: int, timeout: float = 5.0) -> dict[str, float]:
    """The ``count``-th part's timings: result listeners run on the signal thread just after the commit
    that ``wait_for_results`` waits for, so the list may be a part short for a moment."""
    deadline = time.monotonic() + timeout
    while len(parts) < count:
        if time.monotonic() > deadline:
            raise RuntimeError(f"only {len(parts)} of {count} results reached the listener")
        time.sleep(0.0005)
    return parts[count - 1]


class NullStore:
    """Commits instantly in memory: the pipeline's speed without SQLite and image writes."""

    healthy = True

    def __init__(self) -> None:
        self._listeners: list[Any] = []
        self.n = 0

    def start(self) -> None: ...
    def add_commit_listener(self, fn: Any) -> None:
        self._listeners.append(fn)

    def add_event_listener(self, fn: Any) -> None: ...
    def record_event(self, event: Any) -> None: ...
    def record_shadow(self, result: Any) -> Any: ...
    def close(self, timeout: float = 30) -> None: ...

    def submit(self, inspection: Any, block: bool = True) -> None:
        from inspect_app.types import CommittedInspection

        self.n += 1
        c = CommittedInspection(self.n, inspection, None, time.monotonic())
        for fn in self._listeners:
            fn(c)


def model_only_ms(det: Any, x: np.ndarray, seconds: float = 0.7) -> float:
    ts: list[float] = []
    end = time.perf_counter() + seconds
    while time.perf_counter() < end or len(ts) < 10:
        t = time.perf_counter()
        det._infer(x)
        ts.append((time.perf_counter() - t) * 1000)
    return statistics.median(ts)


def bench_throughput(
    model_dir: Path,
    imgs: list[np.ndarray],
    work: Path,
    threads: int,
    parts: int,
    variant: dict[str, Any],
    ref: Any,
) -> dict[str, float]:
    """Free-run parts/s of one variant: precision, in_flight (None: the thread plan's), streams, store
    ('sqlite' or 'null'); beside it the model-only time of ``ref`` (that precision, one stream) measured
    just before and just after, so that the ratio compares like with like on a machine whose load moves."""
    from inspect_app.detector import load_detector
    from inspect_app.detector.threads import detector_settings
    from inspect_app.station import Station
    from inspect_app.testing.fakes import ScriptedSource
    from plc.link import make_link
    from plc.testing import free_port

    name = "-".join(str(v) for v in variant.values())
    opcua = {
        "mode": "server", "endpoint": f"opc.tcp://127.0.0.1:{free_port()}/", "security": ["None"],
        "allow_anonymous": True, "anonymous_role": "operator",
    }  # fmt: skip
    pipeline = {} if variant["in_flight"] is None else {"in_flight": variant["in_flight"]}
    cfg = _config(
        work / f"thr-{name}-{time.monotonic_ns()}", "free_run", "openvino", threads, variant["precision"],
        model_dir, pipeline=pipeline, opcua=opcua,
    )  # fmt: skip
    if variant["streams"] is None:  # what the station itself runs for a free-run line
        run = detector_settings("free_run", "openvino", None, None)
        threads, streams = run.threads, run.streams
    else:
        streams = variant["streams"]
    det = load_detector(model_dir, "openvino", threads, precision=variant["precision"], streams=streams)
    det.warmup()
    x = ref._prepare(imgs[0])[0]
    before = model_only_ms(ref, x)
    store = NullStore() if variant["store"] == "null" else None
    st = Station(cfg, source=ScriptedSource(imgs, loop=True), detectors={str(model_dir): det}, store=store)
    stamps: list[float] = []
    uninspected: list[str] = []
    st.add_result_listener(lambda r: stamps.append(time.monotonic()))
    st.add_result_listener(
        lambda r: (
            uninspected.append(r.inspection.part_id)
            if r.inspection.verdict.value == "NOT_INSPECTED"
            else None
        )
    )
    st.start()
    link = make_link(cfg)
    assert link is not None
    link.start(st)  # the server's start (a second of asyncua setup) is not part of the rate
    up = time.monotonic()
    base = int(st.counters["total"]) + 10  # and a few parts to settle
    st.wait_for_results(base + parts, 300)
    link.stop()
    st.stop()
    after = [t for t in stamps if t >= up][10 : 10 + parts]
    rate = (len(after) - 1) / (after[-1] - after[0])
    mo = (before + model_only_ms(ref, x)) / 2
    return {
        "per_s": rate,
        "model_only_ms": mo,
        "x_model_only": rate * mo / 1000,
        "not_inspected": len(uninspected),
    }


def bench_store(work: Path, n: int) -> float:
    from inspect_app.config import StoreConfig
    from inspect_app.store import ImageArchive, SqliteResultStore
    from inspect_app.types import Decision, Detection, Inspection, Verdict

    cfg = StoreConfig(save_pass_every=0)
    root = work / "store-bench"
    store = SqliteResultStore(root / "results.db", ImageArchive(root / "images", cfg), cfg, station="bench")
    store.start()
    dets = (Detection(0, "scratch", 0.3, (1, 2, 3, 4)), Detection(1, "pit", 0.2, (5, 6, 7, 8)))
    t = time.perf_counter()
    for i in range(n):
        timings = {"detect": 1.0, "total": 2.0}
        insp = Inspection(
            f"p{i}", i, "bench", "bench", "r", "m/1", "0" * 64, Decision(Verdict.PASS), dets, timings, i,
            time.time(), "bench",
        )  # fmt: skip
        store.submit(insp)
    store.close()
    return n / (time.perf_counter() - t)


def bench_startup(work: Path, model_dir: Path) -> dict[str, Any]:
    """``inspect-app demo --headless`` (precision auto) started twice on one state dir: the first start
    times the precisions, the second runs the one remembered (``[detector] cache``)."""
    state = work / f"startup-{time.monotonic_ns()}"
    first = _one_start(work, model_dir, state)
    again = _one_start(work, model_dir, state)
    return {**first, "remembered": again}


def _one_start(work: Path, model_dir: Path, state: Path) -> dict[str, Any]:
    """Process start -> first verdict, the choice, peak RSS."""
    root = work / f"models-{time.monotonic_ns()}"  # a models folder whose default is ``model_dir``
    (root / model_dir.parent.name).mkdir(parents=True)
    (root / model_dir.parent.name / model_dir.name).symlink_to(model_dir)
    (root / "default.json").write_text(json.dumps({"release": f"{model_dir.parent.name}/{model_dir.name}"}))
    env = {**os.environ, "PYTHONUNBUFFERED": "1", "INSPECT_APP_MODELS": str(root)}
    env.pop("OMP_WAIT_POLICY", None)
    t0 = time.monotonic()
    proc = subprocess.Popen(
        [sys.executable, "-m", "inspect_app.cli", "demo", "--headless", "--max-parts", "30", "--state-dir",
         str(state)],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env,
    )  # fmt: skip
    first, choice, peak_kb = None, "", 0
    assert proc.stdout is not None
    for line in proc.stdout:
        if "precision auto:" in line and not choice:
            choice = line.split("precision auto:", 1)[1].split("; not tried", 1)[0].strip()
        if first is None and "first verdict" in line:
            first = time.monotonic() - t0
        try:
            status = Path(f"/proc/{proc.pid}/status").read_text()
            peak_kb = max(peak_kb, int(status.split("VmHWM:")[1].split()[0]))
        except (OSError, IndexError):
            pass
    proc.wait()
    return {"first_verdict_s": first or float("nan"), "auto": choice, "peak_rss_mb": peak_kb / 1024}


def summarize(samples: dict[str, list[float]]) -> dict[str, Any]:
    out: dict[str, Any] = {
        k: {"p50": pct(v, 50), "p99": pct(v, 99), "mean": statistics.fmean(v)} for k, v in samples.items()
    }
    names = [k.removeprefix("station_") for k in samples if k.startswith("station_")]
    out["pairs"] = {
        f"{tag}_{v}": paired_ratio(samples[f"{tag}_{v}"], samples[f"model_only_spaced_{v}"])
        for v in names
        for tag in ("station", "frame_to_verdict")
        if f"model_only_spaced_{v}" in samples
    }
    return out


def paired_ratio(station: list[float], model: list[float]) -> dict[str, Any]:
    """Station parts against the model-only call made just before each (``station[i]`` with ``model[i]``):
    the ratio of the medians, a 90 % bootstrap interval over the pairs, and the median of each pair's
    ratio. Pairs taken close together share the state of a noisy machine; medians of separate blocks do
    not."""
    import random

    n = min(len(station), len(model))
    if n < 2:
        raise ValueError(f"{n} pairs: a ratio needs at least two")
    station, model = station[:n], model[:n]
    rng = random.Random(0)
    boots = []
    for _ in range(2000):
        idx = [rng.randrange(n) for _ in range(n)]
        boots.append(statistics.median(station[i] for i in idx) / statistics.median(model[i] for i in idx))
    cuts = statistics.quantiles(boots, n=20)  # 5 %, 10 %, ..., 95 %
    return {
        "n": n,
        "ratio_of_medians": statistics.median(station) / statistics.median(model),
        "ci90": [cuts[0], cuts[-1]],
        "median_pair_ratio": statistics.median(a / b for a, b in zip(station, model, strict=True)),
    }


def main() -> int:
    if len(sys.argv) > 1 and sys.argv[1] == "--ultralytics-only":
        _ultralytics_only(Path(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4]), int(sys.argv[5]))
        return 0
    from inspect_app.demo import default_model_dir
    from inspect_app.detector.threads import plan

    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--model", type=Path, default=None)
    p.add_argument("--frames", type=int, default=200)
    p.add_argument("--threads", type=int, default=plan().threads)
    p.add_argument("--rounds", type=int, default=4, help="turns each variant gets, interleaved")
    p.add_argument("--parts", type=int, default=600, help="parts per throughput variant, over its runs")
    p.add_argument("--runs", type=int, default=4, help="throughput runs per variant, in ABBA order")
    p.add_argument("--sizes", default="640,320")
    p.add_argument("--gap-ms", type=float, default=20.0, help="pause after each part in the spaced latency")
    p.add_argument("--only", default="latency,throughput,startup")
    p.add_argument("--out", type=Path, default=REPO / "bench" / "results" / "station.json")
    args = p.parse_args()
    only = set(args.only.split(","))
    print(cpu_line(), flush=True)
    work = Path(tempfile.mkdtemp(prefix="bench-station-"))
    configure_offline(REPO / "var")
    model = (args.model or default_model_dir()).resolve()
    imgs = frames(args.frames)
    res: dict[str, Any] = {
        "cpu": cpu_summary(), "cpu_line": cpu_line(), "frames": args.frames, "threads": args.threads,
        "plan": plan().as_dict(), "gap_ms": args.gap_ms, "load_at_start": os.getloadavg(),
        "model": str(model.relative_to(REPO)) if model.is_relative_to(REPO) else str(model),
    }  # fmt: skip
    if "latency" in only:
        for imgsz in map(int, args.sizes.split(",")):
            mdir = release_at(model, imgsz)
            vs = variants(mdir)
            half = args.frames // 2
            ul = bench_ultralytics(mdir, half, imgsz, args.threads)
            row = bench_latency(mdir, vs, imgs, work, args.threads, args.rounds, args.gap_ms / 1000)
            row["ultralytics_predict"] = ul + bench_ultralytics(mdir, args.frames - half, imgsz, args.threads)
            res[str(imgsz)] = {"release": str(mdir), **summarize(row)}
            print(f"imgsz {imgsz} done", flush=True)
    if "throughput" in only:
        native = release_at(model, 320)
        precs = [pr for _, pr in variants(native) if _ == "openvino"]
        vlist = [
            {"precision": pr, "in_flight": f, "streams": s, "store": st}
            for pr in precs
            for f, s, st in ((1, 1, "sqlite"), (None, 1, "sqlite"), (None, None, "sqlite"), (None, 1, "null"))
        ]
        from inspect_app.detector import load_detector

        refs = {pr: load_detector(native, "openvino", args.threads, precision=pr) for pr in precs}
        for ref in refs.values():
            ref.warmup()
        rates: dict[str, list[dict[str, float]]] = {}
        order = [v for r in range(args.runs) for v in (vlist if r % 2 == 0 else vlist[::-1])]
        for v in order:  # ABBA...: each variant early and late alike
            plan_or = {k: v[k] or "plan" for k in ("in_flight", "streams")}
            key = f"{v['precision']}_inflight{plan_or['in_flight']}_streams{plan_or['streams']}_{v['store']}"
            rates.setdefault(key, []).append(
                bench_throughput(
                    native, imgs, work, args.threads, args.parts // args.runs, v, refs[v["precision"]]
                )
            )
        res["throughput"] = {
            k: {"runs": r, "mean": statistics.fmean(x["per_s"] for x in r),
                "x_model_only": statistics.median(x["x_model_only"] for x in r),
                "x_model_only_runs": [x["x_model_only"] for x in r]}
            for k, r in rates.items()
        }  # fmt: skip
        print("throughput done", flush=True)
    if "startup" in only:
        res["store_rate"] = bench_store(work, 20000)
        res["startup"] = bench_startup(work, model)
    res["load_at_end"] = os.getloadavg()
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(res, indent=2))
    print(report(res))
    return 0


def _fastest(r: dict[str, float], tag: str, prec: str) -> float:
    """The fastest runtime's ``tag`` median for ``prec`` (``tag``_<backend>_<precision> keys)."""
    return min(v for k, v in r.items() if k.startswith(f"{tag}_") and k.endswith(f"_{prec}")
               and k.count("_") == tag.count("_") + 2)  # fmt: skip


def report(res: dict[str, Any]) -> str:
    lines = [
        res["cpu_line"],
        f"Model `{res['model']}`, {res['frames']} frames 640x640, {res['threads']} threads; load average "
        f"{res['load_at_start'][0]:.2f} at start, {res['load_at_end'][0]:.2f} at end (other work).",
    ]
    for imgsz in ("640", "320"):
        if imgsz not in res:
            continue
        r = {k: v["p50"] for k, v in res[imgsz].items() if isinstance(v, dict) and "p50" in v}
        keys = [k.removeprefix("station_") for k in r if k.startswith("station_")]  # backend_precision
        ul = r["ultralytics_predict"]
        gap = res.get("gap_ms", 0)
        lines += ["", f"imgsz {imgsz}: medians, ms (ultralytics predict {ul:.2f}); spaced: {gap:.0f} ms "
                  "after the last part; back-to-back: at once", "",
                  "| variant | model-only | model-only spaced | station | back-to-back "
                  "| station / ultralytics | station / fastest model-only spaced, same precision "
                  "| back-to-back / fastest model-only |",
                  "|---|---|---|---|---|---|---|---|"]  # fmt: skip
        for k in keys:
            prec = k.split("_", 1)[1]

            st, b2b, sp = r[f"station_{k}"], r[f"b2b_{k}"], r.get(f"model_only_spaced_{k}", float("nan"))
            vs_spaced, vs_hot = (
                st / _fastest(r, "model_only_spaced", prec),
                b2b / _fastest(r, "model_only", prec),
            )
            lines.append(
                f"| {k} | {r['model_only_' + k]:.2f} | {sp:.2f} | {st:.2f} | {b2b:.2f} | {st / ul:.2f}x "
                f"| {vs_spaced:.2f}x | {vs_hot:.2f}x |"
            )
        lines += [
            "",
            "Spaced station (trigger -> verdict, frame -> verdict) / its own model-only spaced, "
            "paired (each part with the call made just before it): ratio of medians, 90 % bootstrap "
            "interval, median of the pairs' ratios",
            "",
        ]
        for k, pr in res[imgsz].get("pairs", {}).items():
            lines.append(
                f"* {k}: {pr['ratio_of_medians']:.3f}x ({pr['ci90'][0]:.3f}-{pr['ci90'][1]:.3f}), "
                f"{pr['median_pair_ratio']:.3f}x over {pr['n']} pairs"
            )
    if "throughput" in res:
        lines += ["", "Pipelined, 320 (free run, SQLite with images, OPC UA server on), runs in ABBA order; "
                  "x 1/model-only: parts/s times that precision's model-only time measured just before and "
                  "after the run, median over the runs", "",
                  "| variant | parts/s (mean) | x 1/model-only (median) | each run's x 1/model-only |",
                  "|---|---|---|---|"]  # fmt: skip
        for k, v in res["throughput"].items():
            each = ", ".join(f"{x:.2f}" for x in v["x_model_only_runs"])
            lines.append(f"| {k} | {v['mean']:.1f} | {v['x_model_only']:.2f}x | {each} |")
    if "startup" in res:
        s = res["startup"]
        lines += ["", f"* result store alone: {res['store_rate']:.0f} inspections/s",
                  f"* demo start (precision auto) to first verdict: {s['first_verdict_s']:.2f} s, peak RSS "
                  f"{s['peak_rss_mb']:.0f} MB; auto chose {s['auto']}",
                  f"* the next start, auto's choice remembered: {s['remembered']['first_verdict_s']:.2f} s, "
                  f"peak RSS {s['remembered']['peak_rss_mb']:.0f} MB"]  # fmt: skip
    return "\n".join(lines)


if __name__ == "__main__":
    raise SystemExit(main())
