"""Replay throughput against the detector's own, on the same stored images (issue 12).

    .venv/bin/python bench/bench_replay.py [--model models/synth-pcb/0.2.0] [--parts 400] [--rounds 6]
        [--streams 1,2] [--threads 2]

First a history: the station itself (the demo's synthetic PCB camera, zoom 2, 30 % defective parts, the
release given, OpenVINO f32) inspects ``--parts`` parts into a fresh state dir, keeping every image (JPEG,
as the demo does) so that every part can be replayed from its image. Then, in turns for ``--rounds``
rounds (the first variant rotating, so a noisy neighbour slows all alike), with one loaded detector each
for every ``--streams`` value:

* detector, batched: ``detect_many`` over the stored images already decoded in memory (the detector's own
  best: parts in flight where the backend offers them, no file, no decode, no rules);
* detector, one by one: ``detect`` per decoded image;
* detector from the files: each stored JPEG read and decoded (``decode_image``, as the sources decode)
  in a plain loop feeding ``detect_many`` (the detector's throughput on stored images, decoding included);
* replay from images: ``run_replay(mode="image")`` over the same parts with the same detector (reading the
  rows, reading, hashing and decoding each JPEG, the detector, the rules, the report);
* replay from detections: ``run_replay(mode="detections")`` (a recipe-only what-if: no image, no model).

The target variants (detector batched, replay from images, detector from the files) run in turns, the
order reversed every other round, ``--rounds`` pairs per streams
value; ratios are replay/detector within a pair, as wall time (parts/s) and as CPU time per part (all
threads of the process: robust to a neighbour's load on a shared machine). The one-by-one detector and the
replay from detections run once at the end, for scale. Medians go to bench/results/replay.json.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "bench"))

from cpuinfo import cpu_line, cpu_summary  # noqa: E402

from inspect_app.offline import configure_offline  # noqa: E402


def make_history(state: Path, model: Path, parts: int, threads: int) -> Any:
    from inspect_app.config import parse_config
    from inspect_app.station import Station

    cfg = parse_config({
        "station": {"name": "bench-replay"},
        "state_dir": str(state),
        "source": {"kind": "synthetic", "style": "pcb", "width": 640, "height": 640, "seed": 7, "zoom": 2.0,
                   "defect_rate": 0.3},
        "trigger": {"mode": "free_run", "rate_hz": 1000},
        "detector": {"backend": "openvino", "threads": threads, "precision": "f32"},
        "store": {"save_pass_every": 1, "image_format": "jpg"},
        "recipes": {"pcb-demo": {"model": str(model), "min_conf": 0.4}},
        "active_recipe": "pcb-demo",
    })  # fmt: skip
    t0 = time.monotonic()
    st = Station(cfg, max_parts=parts)
    st.start()
    assert st.wait_for_results(parts, timeout=1800), "the history did not complete"
    st.stop()
    print(f"history: {parts} parts inspected by the station in {time.monotonic() - t0:.1f} s")
    return cfg


def stored_images(db: Path, state: Path) -> list[Any]:
    from inspect_app.sources.decode import decode_image
    from inspect_app.store.read import ResultsReader

    with ResultsReader(db) as r:
        recs = [rec for rec in r.iter_range() if rec.image_kept]
    return [decode_image((state / rec.image_path).read_bytes(), rec.image_path) for rec in recs]  # type: ignore[operator]


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--model", type=Path, default=REPO / "models" / "synth-pcb" / "0.2.0")
    ap.add_argument("--parts", type=int, default=400)
    ap.add_argument("--rounds", type=int, default=6)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--streams", default="1,2", help="OpenVINO streams to measure, comma-separated")
    ap.add_argument("--out", type=Path, default=REPO / "bench" / "results" / "replay.json")
    args = ap.parse_args()
    print(cpu_line())
    tmp = Path(tempfile.mkdtemp(prefix="bench-replay-"))
    configure_offline(tmp)
    from inspect_app.detector import load_detector
    from inspect_app.replay import run_replay
    from inspect_app.rules import RecipeRules

    model = args.model.resolve()
    state = tmp / "state"
    cfg = make_history(state, model, args.parts, args.threads)
    db = state / "results.db"
    images = stored_images(db, state)
    assert len(images) == args.parts, f"{len(images)} images kept of {args.parts}"
    iou = cfg.detector.iou
    streams = [int(s) for s in args.streams.split(",") if s]
    detectors = {}
    for s in streams:
        det = load_detector(model, "openvino", args.threads, precision="f32", streams=s)
        det.warmup()
        detectors[s] = det
    conf = RecipeRules("pcb-demo", cfg.recipes["pcb-demo"], detectors[streams[0]].info.names).detector_conf
    n = len(images)

    def det_batched(s: int) -> float:
        t = time.perf_counter()
        for _ in detectors[s].detect_many(images, conf, iou):
            pass
        return n / (time.perf_counter() - t)

    def det_single(s: int) -> float:
        t = time.perf_counter()
        for im in images:
            detectors[s].detect(im, conf, iou)
        return n / (time.perf_counter() - t)

    from inspect_app.sources.decode import decode_image
    from inspect_app.store.read import ResultsReader

    with ResultsReader(db) as r:
        files = [state / str(rec.image_path) for rec in r.iter_range() if rec.image_kept]

    def det_files(s: int) -> float:
        """The detector fed from the stored files: read and decode each (as the station's sources decode),
        in the same thread, then ``detect_many``."""
        t = time.perf_counter()
        gen = (decode_image(f.read_bytes(), f.name) for f in files)
        for _ in detectors[s].detect_many(gen, conf, iou):
            pass
        return n / (time.perf_counter() - t)

    flips: dict[str, int] = {}

    def replay_images(s: int) -> float:
        t = time.perf_counter()
        rep = run_replay(db, config=cfg, mode="image", detectors={str(model): detectors[s]})
        dt = time.perf_counter() - t
        assert rep.replayed == n, rep.not_replayable
        flips[f"streams{s}"] = rep.n_flips
        return n / dt

    def replay_detections(s: int) -> float:
        t = time.perf_counter()
        rep = run_replay(db, config=cfg, mode="detections", detectors={str(model): detectors[s]})
        assert rep.replayed == n and rep.n_flips == 0
        return n / (time.perf_counter() - t)

    # the target's pair (detector batched, replay from images) in ABBA pairs, wall and CPU time both: on a
    # shared machine a neighbour's load moves wall time, while CPU seconds per part stay near what they are
    pair = {"detector_batched": det_batched, "replay_images": replay_images, "detector_from_files": det_files}
    rates: dict[str, dict[str, list[float]]] = {f"streams{s}": {k: [] for k in pair} for s in streams}
    cpu: dict[str, dict[str, list[float]]] = {f"streams{s}": {k: [] for k in pair} for s in streams}
    ratios: dict[str, list[float]] = {f"streams{s}": [] for s in streams}
    cpu_ratios: dict[str, list[float]] = {f"streams{s}": [] for s in streams}
    file_ratios: dict[str, list[float]] = {f"streams{s}": [] for s in streams}
    for rnd in range(args.rounds):
        order = list(pair) if rnd % 2 == 0 else list(reversed(pair))
        for s in streams:
            got, used = {}, {}
            for k in order:
                c0 = time.process_time()
                got[k] = pair[k](s)
                used[k] = (time.process_time() - c0) / n * 1000  # CPU ms per part, all threads
                rates[f"streams{s}"][k].append(got[k])
                cpu[f"streams{s}"][k].append(used[k])
            ratios[f"streams{s}"].append(got["replay_images"] / got["detector_batched"])
            cpu_ratios[f"streams{s}"].append(used["detector_batched"] / used["replay_images"])
            file_ratios[f"streams{s}"].append(got["replay_images"] / got["detector_from_files"])
            print(f"round {rnd + 1} streams {s}: " + ", ".join(
                f"{k} {got[k]:.1f}/s ({used[k]:.1f} CPU ms/part)" for k in order)
                + f"; replay/detector wall {ratios[f'streams{s}'][-1]:.3f}, "
                f"CPU {cpu_ratios[f'streams{s}'][-1]:.3f}; replay/detector from files "
                f"{file_ratios[f'streams{s}'][-1]:.3f}")  # fmt: skip
    extra = {f"streams{s}": {"detector_single": det_single(s), "replay_detections": replay_detections(s)}
             for s in streams}  # fmt: skip
    med = statistics.median
    summary = {
        f"streams{s}": {
            **{k: round(med(v), 2) for k, v in rates[f"streams{s}"].items()},
            **{f"{k}_cpu_ms_per_part": round(med(v), 2) for k, v in cpu[f"streams{s}"].items()},
            **{k: round(v, 2) for k, v in extra[f"streams{s}"].items()},
            "replay_over_detector_wall": round(med(ratios[f"streams{s}"]), 3),
            "replay_over_detector_wall_min_max": [round(min(ratios[f"streams{s}"]), 3),
                                                  round(max(ratios[f"streams{s}"]), 3)],
            "replay_over_detector_cpu": round(med(cpu_ratios[f"streams{s}"]), 3),
            "replay_over_detector_from_files_wall": round(med(file_ratios[f"streams{s}"]), 3),
            "flips_replaying_the_live_model_from_jpeg": flips[f"streams{s}"],
        }
        for s in streams
    }  # fmt: skip
    for det in detectors.values():
        det.close()
    out = {
        "command": "bench/bench_replay.py " + " ".join(sys.argv[1:]),
        "cpu": cpu_summary(),
        "model": str(args.model),
        "parts": n,
        "rounds": args.rounds,
        "threads": args.threads,
        "image": "640x640 JPEG q92 (the demo's store), synthetic PCB, zoom 2",
        "results_median": summary,
        "rates_all_rounds": rates,
        "cpu_ms_per_part_all_rounds": cpu,
        "load_average_end": list(__import__("os").getloadavg()),
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(out, indent=2) + "\n")
    print(json.dumps(summary, indent=2))
    print(f"written to {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
