"""What the result store takes from a free-run line's throughput (issue 13), at the station's default.

    OMP_WAIT_POLICY=PASSIVE nice -n -10 .venv/bin/python bench/bench_store_share.py \
        [--model models/NAME/VERSION] [--precision int8] [--parts 600] [--runs 4]

The free-run station of ``bench_station.py``'s throughput part ([detector] streams and [pipeline]
in_flight unset, so the thread plan's: 2 streams of 1 thread on 2 cores; the OPC UA server on; half the
synthetic parts FAIL) with three stores, in ABBA order: the null store (commits in memory), SQLite with
every FAIL and 1 in 20 PASS images but the JPEG encoder replaced by a stub that returns 1 kB, and SQLite
with everything. Each run's parts/s and its ratio to 1/model-only (the precision's one-stream model-only
time, measured just before and after the run). Prints the CPU first; JSON in
bench/results/store_share.json.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "bench"))

import bench_station  # noqa: E402
from cpuinfo import cpu_line  # noqa: E402

from inspect_app.offline import configure_offline  # noqa: E402


class _StubEncoder:
    """Swaps the image archive's encoder for one that costs nothing, for the length of one run."""

    def __enter__(self) -> None:
        from inspect_app.store.images import ImageArchive

        self._cls, self._real = ImageArchive, ImageArchive.encode
        ImageArchive.encode = lambda self, image: b"\xff\xd8" + b"\0" * 1000  # type: ignore[method-assign]

    def __exit__(self, *exc: object) -> None:
        self._cls.encode = self._real  # type: ignore[method-assign]


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--model", type=Path, default=None, help="a release (default: models/default.json's)")
    p.add_argument("--precision", default="int8")
    p.add_argument("--parts", type=int, default=600)
    p.add_argument("--runs", type=int, default=4)
    p.add_argument("--out", type=Path, default=REPO / "bench" / "results" / "store_share.json")
    args = p.parse_args()
    from inspect_app.demo import default_model_dir

    args.model = (args.model or default_model_dir()).resolve()
    work = Path(tempfile.mkdtemp(prefix="store-share-"))
    configure_offline(work)
    print(cpu_line(), flush=True)
    from inspect_app.detector import load_detector
    from inspect_app.detector.threads import plan

    threads = plan().threads
    ref = load_detector(args.model, "openvino", None, precision=args.precision)
    ref.warmup()
    imgs = bench_station.frames(60, 0)
    kinds = ["null", "sqlite, JPEG stubbed", "sqlite"]
    order = [k for r in range(args.runs) for k in (kinds if r % 2 == 0 else kinds[::-1])]
    runs: dict[str, list[dict[str, float]]] = {k: [] for k in kinds}
    for kind in order:
        variant = {"precision": args.precision, "in_flight": None, "streams": None,
                   "store": "null" if kind == "null" else "sqlite"}  # fmt: skip
        if kind == "sqlite, JPEG stubbed":
            with _StubEncoder():
                r = bench_station.bench_throughput(args.model, imgs, work, threads, args.parts, variant, ref)
        else:
            r = bench_station.bench_throughput(args.model, imgs, work, threads, args.parts, variant, ref)
        runs[kind].append(r)
        print(f"{kind}: {r['per_s']:.1f} parts/s, {r['x_model_only']:.2f}x 1/model-only", flush=True)
    res = {
        "cpu_line": cpu_line(), "model": str(args.model), "precision": args.precision, "parts": args.parts,
        "stores": {k: {"runs": v, "parts_per_s_median": statistics.median(x["per_s"] for x in v),
                       "x_model_only_median": statistics.median(x["x_model_only"] for x in v)}
                   for k, v in runs.items()},
    }  # fmt: skip
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(res, indent=2))
    print("\n| store | parts/s (median) | x 1/model-only (median) | each run |\n|---|---|---|---|")
    for k, v in res["stores"].items():
        each = ", ".join(f"{x['x_model_only']:.2f}" for x in v["runs"])
        print(f"| {k} | {v['parts_per_s_median']:.1f} | {v['x_model_only_median']:.2f}x | {each} |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
