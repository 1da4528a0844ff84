"""Where a station decision's time goes besides the model (issue 13): one part at a time, 20 ms apart.

    OMP_WAIT_POLICY=PASSIVE nice -n -10 .venv/bin/python bench/bench_decision_split.py \
        [--model models/NAME/VERSION] [--precision int8] [--frames 60] [--rounds 5]

Measured on one detector (OpenVINO, the thread plan's threads, one stream), frame by frame, in rounds:

* **pairs**: a model-only call on a prepared input, then 20 ms later one station part (software trigger,
  ``bench_station``'s config, 640x640 synthetic frames), so that each part and its model-only twin see the
  same minute of a noisy machine (the parts of a round are about 0.2 s apart: a line slower than the
  station). The station / model-only ratio of the medians, with a 90 % bootstrap interval over the pairs,
  for trigger -> verdict (``timings_ms`` total) and frame -> verdict (total minus acquire);
* the station's stage timings (``Inspection.timings_ms``: acquire = trigger to frame, queue = frame to
  the detect stage, detect = letterbox + inference + decode/NMS, decide = rules);
* the detect stage's pieces by hand, each after 20 ms of idle as the station meets them: letterbox (into a
  new array), inference and decode/NMS of one frame in a row; then decode/NMS and the letterbox once more
  at once (warm); decode/NMS 1 ms after another inference, and the same decode/NMS once more after 20 ms
  idle with no inference between; and letterbox + inference as the OpenVINO backend does them, the
  letterbox written into the request's own input tensor (against the same with a new array handed to the
  request, which copies it);
* **a faster line**: a second station part 20 ms after the first one's commit, nothing in between (a
  FAIL's image may still be being written), paired with the same model-only call.

Prints the CPU first; JSON in bench/results/decision_split.json.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "bench"))

import bench_station  # noqa: E402
from cpuinfo import cpu_line  # noqa: E402

from inspect_app.offline import configure_offline  # noqa: E402

GAP_S = 0.02


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--model", type=Path, default=None, help="a release (default: models/default.json's)")
    p.add_argument("--precision", default="int8")
    p.add_argument("--frames", type=int, default=60)
    p.add_argument("--rounds", type=int, default=5)
    p.add_argument("--out", type=Path, default=REPO / "bench" / "results" / "decision_split.json")
    args = p.parse_args()
    from inspect_app.demo import default_model_dir

    args.model = (args.model or default_model_dir()).resolve()
    work = Path(tempfile.mkdtemp(prefix="decision-split-"))
    configure_offline(work)
    print(cpu_line(), flush=True)
    from inspect_app.detector import load_detector
    from inspect_app.detector.postprocess import postprocess
    from inspect_app.detector.preprocess import as_bgr, letterbox_into
    from inspect_app.detector.threads import plan
    from inspect_app.station import Station
    from inspect_app.testing.fakes import ScriptedSource

    threads = plan().threads
    det = load_detector(args.model, "openvino", threads, precision=args.precision)
    det.warmup()
    imgs = bench_station.frames(args.frames, 0)
    cfg = bench_station._config(work / "station", "software", "openvino", threads, args.precision, args.model)
    st = Station(cfg, source=ScriptedSource(imgs, loop=True), detectors={str(args.model): det})
    stages: list[dict[str, float]] = []
    st.add_result_listener(lambda r: stages.append(dict(r.inspection.timings_ms)))
    st.start()
    st.trigger()
    st.wait_for_results(1, 30)
    time.sleep(0.2)  # the first part's listeners have run: it is not measured
    stages.clear()
    prepared = [det._prepare(im)[0] for im in imgs]  # type: ignore[attr-defined]
    by_hand: dict[str, list[float]] = {
        k: []
        for k in ("model_only_spaced", "letterbox", "inference", "decode_nms", "decode_nms_again",
                  "letterbox_again", "decode_nms_1ms_after", "decode_nms_after_idle",
                  "letterbox_into_request", "letterbox_new_array_and_inference",
                  "letterbox_into_request_and_inference")
    }  # fmt: skip
    done = 1
    fast_line: list[dict[str, float]] = []  # each pair's second part
    for _ in range(args.rounds):
        for x, im in zip(prepared, imgs, strict=True):
            time.sleep(GAP_S)
            t = time.perf_counter()
            det._infer(x)  # type: ignore[attr-defined]
            by_hand["model_only_spaced"].append(time.perf_counter() - t)
            time.sleep(GAP_S)
            # the station's part right after its model-only twin: a pair sees the same state of the machine
            paired = len(stages)
            st.trigger()
            done += 1
            st.wait_for_results(done, 30)
            bench_station.listened(stages, paired + 1)
            time.sleep(GAP_S)
            # and a second part 20 ms after that one's commit, as on a faster line (a FAIL's image may still
            # be being written): paired with the same model-only call, 47 ms before it
            st.trigger()
            done += 1
            st.wait_for_results(done, 30)
            fast_line.append(bench_station.listened(stages, paired + 2))
            stages.pop()
            time.sleep(GAP_S)
            t0 = time.perf_counter()
            blob, lb = det._prepare(im)  # type: ignore[attr-defined]
            t1 = time.perf_counter()
            pred = det._infer(blob)  # type: ignore[attr-defined]
            t2 = time.perf_counter()
            postprocess(pred, lb, 0.25, 0.7, det.info.names)
            t3 = time.perf_counter()
            postprocess(pred, lb, 0.25, 0.7, det.info.names)
            t4 = time.perf_counter()
            det._prepare(im)  # type: ignore[attr-defined]
            t5 = time.perf_counter()
            by_hand["letterbox"].append(t1 - t0)
            by_hand["inference"].append(t2 - t1)
            by_hand["letterbox_new_array_and_inference"].append(t2 - t0)
            by_hand["decode_nms"].append(t3 - t2)
            by_hand["decode_nms_again"].append(t4 - t3)
            by_hand["letterbox_again"].append(t5 - t4)
            time.sleep(GAP_S)
            slot = det._take()  # type: ignore[attr-defined]  # the station's way (OpenVinoDetector.begin)
            t0 = time.perf_counter()
            letterbox_into(as_bgr(im), slot.input)
            t1 = time.perf_counter()
            slot.request.start_async()
            slot.request.wait()
            t2 = time.perf_counter()
            det._free.append(slot)  # type: ignore[attr-defined]
            by_hand["letterbox_into_request"].append(t1 - t0)
            by_hand["letterbox_into_request_and_inference"].append(t2 - t0)
            time.sleep(GAP_S)
            pred = det._infer(prepared[0])  # type: ignore[attr-defined]
            time.sleep(0.001)  # OpenVINO's worker threads have stopped spinning by now
            t0 = time.perf_counter()
            postprocess(pred, lb, 0.25, 0.7, det.info.names)
            by_hand["decode_nms_1ms_after"].append(time.perf_counter() - t0)
            time.sleep(GAP_S)  # no inference in between: does the idle alone make the same code slower?
            t0 = time.perf_counter()
            postprocess(pred, lb, 0.25, 0.7, det.info.names)
            by_hand["decode_nms_after_idle"].append(time.perf_counter() - t0)
    st.stop()
    det.close()
    model_only = [v * 1000 for v in by_hand["model_only_spaced"]]
    res = {
        "cpu_line": cpu_line(), "model": str(args.model), "precision": args.precision, "threads": threads,
        "station_ms": {k: statistics.median(s[k] for s in stages)
                       for k in ("acquire", "queue", "detect", "decide", "total")},
        "by_hand_ms": {k: statistics.median(v) * 1000 for k, v in by_hand.items()},
        "parts": len(stages),
        "pairs": bench_station.paired_ratio([s["total"] for s in stages], model_only),
        "pairs_capture": bench_station.paired_ratio([s["total"] - s["acquire"] for s in stages], model_only),
        "pairs_fast_line": bench_station.paired_ratio([s["total"] for s in fast_line], model_only),
    }  # fmt: skip
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(res, indent=2))
    s, h = res["station_ms"], res["by_hand_ms"]
    print(f"station, medians of {res['parts']} parts, ms: " + ", ".join(f"{k} {v:.3f}" for k, v in s.items()))
    print("by hand after 20 ms idle, ms: " + ", ".join(f"{k} {v:.3f}" for k, v in h.items()))
    for key, what in (
        ("pairs", "trigger -> verdict"),
        ("pairs_capture", "frame -> verdict"),
        ("pairs_fast_line", "trigger -> verdict, 20 ms after a commit"),
    ):
        pr = res[key]
        print(
            f"station {what} / model-only spaced, {pr['n']} pairs: ratio of medians "
            f"{pr['ratio_of_medians']:.3f}x (90 % bootstrap {pr['ci90'][0]:.3f}-{pr['ci90'][1]:.3f}), "
            f"median of pair ratios {pr['median_pair_ratio']:.3f}x"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
