"""What a shadow model costs the live line (issue 12: at most 5 % of its throughput at full rate).

    .venv/bin/python bench/bench_shadow.py [--live models/synth-pcb/0.2.0] [--shadow models/synth-pcb/0.3.0]
        [--parts 300] [--rounds 3] [--threads 2] [--nice 10] [--shadow-backend onnxruntime]

The same station (synthetic PCB frames, 640 x 640, made once; OpenVINO f32 at the release's 320; results in
SQLite with FAIL images and 1 in 20 PASS images), with and without ``[shadow]``, in turns (ABBA over
``--rounds``), so a noisy neighbour slows both alike:

* **full rate**: free-run as fast as the line goes; parts/s of the live line, and how many parts the shadow
  judged and skipped (at full rate the live queue is rarely empty, so the shadow mostly gives way: that is
  the design, and the number says how much it still judged);
* **half rate**: free-run at half the full rate without the shadow: the live part's trigger -> verdict time
  (``t_total_ms``) p50/p95 with and without the shadow, and the share of parts the shadow judged.

Prints the CPU first; JSON in bench/results/shadow.json.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "bench"))
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

from cpuinfo import cpu_line, cpu_summary  # noqa: E402

from inspect_app.offline import configure_offline  # noqa: E402


def frames(n: int, seed: int = 42) -> list[np.ndarray]:
    from inspect_app.synth.generator import PartGenerator

    gen = PartGenerator("pcb", 640, 640, seed=seed, defect_rate=0.3)
    return [gen.generate(i).image for i in range(n)]


def run_once(work: Path, imgs: list[np.ndarray], live: Path, shadow: Path | None, rate_hz: float, parts: int,
             threads: int, backend: str = "onnxruntime", nice: int = 10) -> dict[str, Any]:  # fmt: skip
    from inspect_app.config import parse_config
    from inspect_app.station import Station
    from inspect_app.testing.fakes import ScriptedSource, wait_until

    cfg = parse_config({
        "state_dir": str(work / f"st-{time.monotonic_ns()}"),
        "trigger": {"mode": "free_run", "rate_hz": rate_hz, "queue_size": 64},
        "detector": {"backend": "openvino", "threads": threads, "precision": "f32"},
        "store": {"save_pass_every": 20},
        "recipes": {"r": {"model": str(live), "min_conf": 0.4}},
        "active_recipe": "r",
        "shadow": {"enabled": shadow is not None, "release": str(shadow) if shadow else None,
                   "backend": backend, "nice": nice},
    })  # fmt: skip
    st = Station(cfg, source=ScriptedSource(imgs, loop=True))
    stamps: list[float] = []
    totals: list[float] = []

    def on_result(r: Any) -> None:
        stamps.append(time.monotonic())
        totals.append(float(r.inspection.timings_ms.get("total", 0.0)))

    st.add_result_listener(on_result)
    st.start()
    if shadow is not None:  # its model loads beside the line; measured once it runs
        assert wait_until(lambda: st.shadow_status().state == "running", 120)
    up = len(stamps) + 10
    st.wait_for_results(int(st.counters["total"]) + 10 + parts, 600)
    status = st.shadow_status()
    before = (status.judged, status.skipped) if status else (0, 0)
    st.stop()
    status = st.shadow_status()
    window = stamps[up : up + parts]
    rate = (len(window) - 1) / (window[-1] - window[0])
    out: dict[str, Any] = {
        "per_s": rate,
        "t_total_p50_ms": float(np.percentile(totals[up : up + parts], 50)),
        "t_total_p95_ms": float(np.percentile(totals[up : up + parts], 95)),
    }
    if status is not None:
        out.update(judged=before[0], skipped=before[1], parts_seen=sum(before),
                   judged_share=before[0] / max(1, sum(before)))  # fmt: skip
    return out


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--live", type=Path, default=REPO / "models" / "synth-pcb" / "0.2.0")
    p.add_argument("--shadow", type=Path, default=REPO / "models" / "synth-pcb" / "0.3.0")
    p.add_argument("--parts", type=int, default=300)
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--shadow-backend", default="onnxruntime", choices=["onnxruntime", "openvino"])
    p.add_argument("--out", type=Path, default=REPO / "bench" / "results" / "shadow.json")
    p.add_argument("--nice", type=int, default=10, help="[shadow] nice (0: the line's priority)")
    args = p.parse_args()
    print(cpu_line(), flush=True)
    work = Path(tempfile.mkdtemp(prefix="bench-shadow-"))
    configure_offline(work)
    imgs = frames(60)
    res: dict[str, Any] = {"cpu": cpu_summary(), "live": str(args.live), "shadow": str(args.shadow),
                           "parts": args.parts, "rounds": args.rounds, "threads": args.threads,
                           "shadow_backend": args.shadow_backend, "nice": args.nice}  # fmt: skip
    for phase in ("full", "half"):
        runs: dict[str, list[dict[str, Any]]] = {"off": [], "on": []}
        rate = 1000.0 if phase == "full" else res["full"]["off_per_s"] / 2
        for r in range(args.rounds):
            for name in (("off", "on") if r % 2 == 0 else ("on", "off")):
                shadow = args.shadow if name == "on" else None
                one = run_once(work, imgs, args.live, shadow, rate, args.parts, args.threads,
                               args.shadow_backend, args.nice)  # fmt: skip
                runs[name].append(one)
                extra = f", shadow judged {one['judged']} skipped {one['skipped']}" if shadow else ""
                print(f"{phase} rate ({rate:.0f} Hz) round {r + 1} shadow {name}: {one['per_s']:.2f} "
                      f"parts/s, t_total p50 {one['t_total_p50_ms']:.1f} ms p95 "
                      f"{one['t_total_p95_ms']:.1f} ms{extra}", flush=True)  # fmt: skip
        med = {k: {m: statistics.median(x[m] for x in v) for m in v[0]} for k, v in runs.items()}
        res[phase] = {
            "rate_hz": rate, "runs": runs,
            "off_per_s": med["off"]["per_s"], "on_per_s": med["on"]["per_s"],
            "throughput_ratio": med["on"]["per_s"] / med["off"]["per_s"],
            "cost_pct": 100 * (1 - med["on"]["per_s"] / med["off"]["per_s"]),
            "t_total_p50_ms": {k: med[k]["t_total_p50_ms"] for k in med},
            "t_total_p95_ms": {k: med[k]["t_total_p95_ms"] for k in med},
            "shadow_judged_share": med["on"]["judged_share"],
        }  # fmt: skip
    f, h = res["full"], res["half"]
    print(f"\nfull rate: {f['off_per_s']:.2f} parts/s without the shadow, {f['on_per_s']:.2f} with "
          f"(cost {f['cost_pct']:.1f} %; the shadow judged {100 * f['shadow_judged_share']:.0f} % of the "
          "parts)")
    print(f"half rate ({h['rate_hz']:.1f} Hz): trigger -> verdict p50 {h['t_total_p50_ms']['off']:.1f} -> "
          f"{h['t_total_p50_ms']['on']:.1f} ms, p95 {h['t_total_p95_ms']['off']:.1f} -> "
          f"{h['t_total_p95_ms']['on']:.1f} ms; the shadow judged {100 * h['shadow_judged_share']:.0f} % of "
          "the parts")  # fmt: skip
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(res, indent=2) + "\n")
    print(f"results: {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
